#!/usr/bin/env python3
"""Checks a GGUF file written by `mistral quantize` with llama.cpp's own Python package (gguf-py).

    python tools/quant/check_quantized.py SOURCE OUT.gguf [--scheme q4_k_m]

SOURCE is what was quantized: a Hugging Face directory (config.json + *.safetensors, f32/f16/bf16)
or a GGUF file. For every tensor of OUT.gguf this
  1. dequantizes it with gguf-py (`gguf.quants.dequantize`, llama.cpp's reference code in numpy);
  2. takes the source tensor in GGUF row order: for a Hugging Face source, q_proj and k_proj go
     through convert_hf_to_gguf.py's `LlamaModel.permute` (written out below), so a wrong q/k
     permutation shows up as a large error; a GGUF source is dequantized as it is;
  3. checks the error against the format's bound, per 32-element block, relative to the block's
     largest magnitude (bounds below), and reports the tensor's normalized mean squared error;
  4. for Q8_0, Q4_0, Q4_1 and Q5_0, where gguf-py has a quantizer, compares the bytes with
     gguf-py's (llama.cpp's reference rounding): they must be equal.
It also checks the metadata llama.cpp needs. Exit status 1 on any failure.
Needs numpy and gguf (`pip install gguf numpy`).
"""

import argparse
import json
import struct
import sys
from pathlib import Path

import numpy as np
from gguf import GGUFReader
from gguf.constants import GGMLQuantizationType as T
from gguf import quants

# Largest error of one weight, as a fraction of the largest magnitude a in its 32-weight block.
# A b-bit grid over [-a, a] has steps of a / 2^(b-1); half a step is the rounding error, but the
# symmetric formats (Q4_0, Q5_0, Q6_K) put the signed extreme at -2^(b-1) and clamp the opposite
# end one step short, so a whole step is possible there; the f16 scale adds ~1e-3 relative. K-quants also quantize their sub-block scales (6 or 8 bits),
# which can cost up to about one more step; the bounds leave that room.
BLOCK_BOUND = {
    T.F32: 0.0,
    T.F16: 1e-3,
    T.BF16: 8e-3,
    T.Q8_0: 0.5 / 127 + 2e-3,
    T.Q6_K: 2.0 / 32,
    T.Q5_0: 1.0 / 16 + 2e-3,
    T.Q5_K: 2.0 / 16,
    T.Q4_0: 1.0 / 8 + 2e-3,
    T.Q4_1: 1.0 / 15 + 2e-3,
    T.Q4_K: 2.0 / 8,
}

LLAMA_KEYS = [
    "general.architecture", "general.file_type", "general.quantization_version",
    "llama.context_length", "llama.embedding_length", "llama.block_count",
    "llama.feed_forward_length", "llama.attention.head_count", "llama.attention.head_count_kv",
    "llama.attention.layer_norm_rms_epsilon", "llama.rope.dimension_count",
]

HF_NAMES = {
    "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def gguf_name(hf):
    top = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
           "lm_head.weight": "output.weight"}
    if hf in top:
        return top[hf]
    layer, part = hf.removeprefix("model.layers.").split(".", 1)
    return f"blk.{layer}.{HF_NAMES[part.removesuffix('.weight')]}.weight"


def permute(w, n_head, n_head_kv):
    """convert_hf_to_gguf.py, LlamaModel.permute."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def read_safetensors(path):
    """All tensors of one safetensors file as float32 numpy arrays."""
    buf = path.read_bytes()
    n = struct.unpack("<Q", buf[:8])[0]
    header = json.loads(buf[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = buf[8 + n + a:8 + n + b]
        dt = info["dtype"]
        if dt == "F32":
            x = np.frombuffer(raw, dtype="<f4")
        elif dt == "F16":
            x = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dt == "BF16":
            x = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise SystemExit(f"{path}: tensor {name} has dtype {dt}")
        out[name] = x.reshape(info["shape"])
    return out


def hf_source(d):
    cfg = json.loads((d / "config.json").read_text())
    tensors = {}
    for f in sorted(d.glob("model*.safetensors")):
        tensors.update(read_safetensors(f))
    heads = cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads") or heads
    out = {}
    for hf, w in tensors.items():
        if hf.endswith("q_proj.weight"):
            w = permute(w, heads, heads)
        elif hf.endswith("k_proj.weight"):
            w = permute(w, heads, kv)
        out[gguf_name(hf)] = w
    if "lm_head.weight" not in tensors and not cfg.get("tie_word_embeddings", False):
        raise SystemExit(f"{d}: no lm_head.weight and embeddings not tied")
    return out


def dequant(t):
    """A GGUF reader tensor as float32, shape in PyTorch order."""
    return np.asarray(quants.dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(
        [int(x) for x in reversed(t.shape)])


def gguf_source(path):
    return {t.name: dequant(t) for t in GGUFReader(path).tensors}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", type=Path)
    ap.add_argument("out", type=Path)
    a = ap.parse_args()

    src = hf_source(a.source) if a.source.is_dir() else gguf_source(a.source)
    r = GGUFReader(a.out)
    failures = []
    for key in LLAMA_KEYS:
        if key not in r.fields:
            failures.append(f"metadata key {key} is missing")
    arch = r.fields["general.architecture"].contents() if "general.architecture" in r.fields else None
    if arch != "llama":
        failures.append(f"general.architecture is {arch!r}, expected 'llama'")
    if "tokenizer.ggml.model" not in r.fields:
        print("note: no tokenizer.ggml.model: llama.cpp will refuse to load this file")

    names = {t.name for t in r.tensors}
    if set(src) != names:
        failures.append(f"tensor names differ: missing {sorted(set(src) - names)[:5]}, "
                        f"extra {sorted(names - set(src))[:5]}")
    print(f"{'tensor':<28} {'type':>6} {'nmse':>10} {'max err/blk max':>16}  exact")
    for t in r.tensors:
        if t.name not in src:
            continue
        got = dequant(t)
        want = src[t.name].astype(np.float32)
        if got.shape != want.shape:
            failures.append(f"{t.name}: shape {got.shape}, source {want.shape}")
            continue
        nmse = float(np.sum((got - want) ** 2) / max(np.sum(want ** 2), 1e-30))
        # Per 32-element block (along rows), error relative to the block's largest magnitude.
        n = want.size
        blk = 32 if want.shape[-1] % 32 == 0 else 1
        w32 = want.reshape(-1, blk)
        e32 = np.abs(got - want).reshape(-1, blk)
        scale = np.maximum(np.abs(w32).max(axis=1, keepdims=True), 1e-30)
        rel = float((e32 / scale).max()) if n else 0.0
        bound = BLOCK_BOUND.get(t.tensor_type)
        exact = ""
        if t.tensor_type in (T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0):
            ref = quants.quantize(want.reshape(-1, want.shape[-1]), t.tensor_type)
            same = np.array_equal(ref.reshape(-1).view(np.uint8), np.asarray(t.data).reshape(-1).view(np.uint8))
            exact = "bytes = gguf-py" if same else "BYTES DIFFER"
            if not same:
                failures.append(f"{t.name}: bytes differ from gguf-py's {t.tensor_type.name} quantizer")
        if bound is None:
            failures.append(f"{t.name}: unexpected type {t.tensor_type.name}")
        elif rel > bound:
            failures.append(f"{t.name}: {t.tensor_type.name} error {rel:.4f} of the block's largest "
                            f"magnitude exceeds {bound:.4f}")
        print(f"{t.name:<28} {t.tensor_type.name:>6} {nmse:10.2e} {rel:16.4f}  {exact}")
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures))
        return 1
    print(f"\nok: {len(r.tensors)} tensors within their format's bound; metadata present")
    return 0


if __name__ == "__main__":
    sys.exit(main())
