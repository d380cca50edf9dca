#!/usr/bin/env python3
"""PyTorch yardstick for `cargo xtask bench`, run by hand on a GPU machine that has PyTorch.

It times what a user would compare our kernels with, at Mistral-7B shapes, in the same way as
our benchmark (warm-up, CUDA events, median of several runs, weights rotated past L2):
device-to-device copy, bf16 GEMV (torch.matmul, M=1), bf16 GEMM at M=128/512/4096, and
scaled_dot_product_attention (causal, GQA 32/8, d=128) for prefill and one-token decode.
Never a dependency of the project: run it beside `mistral-bench` and compare the ratios.

    python3 tools/yardstick/torch_yardstick.py [--quick] [--json torch.json]
"""
import argparse
import json
import statistics

import torch
import torch.nn.functional as F

HIDDEN, FFN, VOCAB, HEADS, KV_HEADS, HEAD_DIM, WINDOW = 4096, 14336, 32000, 32, 8, 128, 4096


def timed(fn, iters=10, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times), min(times), max(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    dev = torch.device("cuda")
    rows = []

    def row(name, value, unit, t):
        rows.append({"name": name, "value": value, "unit": unit, "median_s": t[0], "min_s": t[1], "max_s": t[2]})
        print(f"{name:<50} {value:>10.2f} {unit}")

    n = 1 << 28  # 1 GiB of f32
    src, dst = torch.randn(n, device=dev), torch.empty(n, device=dev)
    t = timed(lambda: dst.copy_(src))
    row("copy bandwidth (read + write)", 2 * n * 4 / t[0] / 1e9, "GB/s", t)
    del src, dst

    shapes = [("q_proj", HIDDEN, HIDDEN), ("k_proj/v_proj", KV_HEADS * HEAD_DIM, HIDDEN), ("o_proj", HIDDEN, HIDDEN),
              ("gate/up_proj", FFN, HIDDEN), ("down_proj", HIDDEN, FFN), ("lm_head", VOCAB, HIDDEN)]
    for name, n_out, k in shapes:
        copies = max(1, min(8, -(-(256 << 20) // (n_out * k * 2))))
        ws = [torch.randn(n_out, k, device=dev, dtype=torch.bfloat16) for _ in range(copies)]
        x = torch.randn(1, k, device=dev, dtype=torch.bfloat16)
        i = [0]

        def gemv():
            i[0] += 1
            return x @ ws[i[0] % copies].T
        t = timed(gemv, iters=max(10, copies))
        row(f"gemv {name} {n_out}x{k} bf16", (n_out * k * 2 + 2 * (n_out + k)) / t[0] / 1e9, "GB/s", t)
        del ws

    for m in ([512] if args.quick else [128, 512, 4096]):
        for name, n_out, k in [("o_proj", HIDDEN, HIDDEN), ("gate/up_proj", FFN, HIDDEN), ("down_proj", HIDDEN, FFN)]:
            w = torch.randn(n_out, k, device=dev, dtype=torch.bfloat16)
            x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
            t = timed(lambda: x @ w.T, iters=5)
            row(f"gemm {name} M={m} {n_out}x{k} bf16", 2 * m * n_out * k / t[0] / 1e12, "TFLOP/s", t)

    for s in ([4096] if args.quick else [512, 1024, 2048, 4096, 8192]):
        q = torch.randn(1, HEADS, s, HEAD_DIM, device=dev, dtype=torch.bfloat16)
        kv = [torch.randn(1, KV_HEADS, s, HEAD_DIM, device=dev, dtype=torch.bfloat16) for _ in range(2)]
        # Sliding window as a boolean mask (i - W < j <= i); SDPA has no native window.
        i = torch.arange(s, device=dev)
        mask = (i[None, :] <= i[:, None]) & (i[None, :] > i[:, None] - WINDOW)
        t = timed(lambda: F.scaled_dot_product_attention(q, kv[0], kv[1], attn_mask=mask, enable_gqa=True), iters=5)
        pairs = sum(min(j + 1, WINDOW) for j in range(s))
        row(f"attention prefill S={s} W={WINDOW} (in-window FLOPs)", 4 * pairs * HEADS * HEAD_DIM / t[0] / 1e12, "TFLOP/s", t)

    for ctx in ([4096] if args.quick else [1, 512, 2048, 4096, 8192]):
        keys = min(ctx, WINDOW)
        q = torch.randn(1, HEADS, 1, HEAD_DIM, device=dev, dtype=torch.bfloat16)
        kv = [torch.randn(1, KV_HEADS, keys, HEAD_DIM, device=dev, dtype=torch.bfloat16) for _ in range(2)]
        t = timed(lambda: F.scaled_dot_product_attention(q, kv[0], kv[1], enable_gqa=True))
        row(f"decode attention ctx={ctx}", 2 * keys * KV_HEADS * HEAD_DIM * 2 / t[0] / 1e9, "GB/s", t)

    out = {"card": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": rows}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
