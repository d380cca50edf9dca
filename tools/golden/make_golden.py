#!/usr/bin/env python3
"""Generate Hugging Face transformers "golden" outputs on tiny random Mistral models.

Run by hand (never in CI); see tools/golden/README.md. Writes, for each case,
into tests/golden/<case>/:

  config.json                      HF Mistral config (same key set as the real
                                   Mistral-7B-Instruct-v0.1 config.json)
  model.safetensors                weights in the case's storage dtype
    or model-0000{1,2}-of-00002.safetensors + model.safetensors.index.json
  golden.safetensors               tokens  I64 [T]
                                   logits  F32 [T, vocab]   (teacher-forced, one forward)
                                   prompt  I64 [P]
                                   greedy  I64 [N]          (new tokens only)
                                   greedy_logits F32 [N, vocab] (logits that produced
                                                  each greedy token, KV-cached decode)
  meta.json                        human-readable description

All reference computation is float32 with attn_implementation="eager"; the
weights are rounded to the storage dtype first, so the f32 compute uses exactly
the stored values.
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np
import safetensors
import safetensors.torch
import torch
import transformers
from transformers import MistralConfig, MistralForCausalLM

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_ROOT = os.path.join(REPO, "tests", "golden")

# Default lengths; a case may set its own "T", "P" and "N" (the long-prompt cases do).
T = 40  # teacher-forced sequence length
P = 5  # prompt length for greedy generation
N = 30  # new tokens for greedy generation
MIN_MARGIN = 1e-2  # required top1 - top2 gap for every greedy step
SEED_TRIES = 64  # seeds 0..63 are tried per case

DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}
DTYPE_NAMES = {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}

CASES = [
    dict(
        name="gqa4_f32",
        desc="GQA ratio 4 (8 query heads, 2 KV heads), head_dim 8, sliding window 8, f32 weights",
        dtype="f32",
        hidden_size=64,
        num_attention_heads=8,
        num_key_value_heads=2,
        head_dim=8,
        intermediate_size=160,
        sliding_window=8,
        rope_theta=10000.0,
        rms_norm_eps=1e-5,
        vocab_size=320,
    ),
    dict(
        name="window8_bf16",
        desc="4 query heads, 2 KV heads, head_dim 16, sliding window 8, bf16 weights",
        dtype="bf16",
        hidden_size=64,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        intermediate_size=160,
        sliding_window=8,
        rope_theta=10000.0,
        rms_norm_eps=1e-5,
        vocab_size=320,
    ),
    dict(
        name="head128_bf16_sharded",
        desc="head_dim 128 (as in the real model), 2 query heads, 1 KV head, sliding window 16, "
        "bf16 weights split over 2 safetensors shards with model.safetensors.index.json "
        "(layer 1 is split across the two shards)",
        dtype="bf16",
        hidden_size=256,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=128,
        intermediate_size=128,
        sliding_window=16,
        rope_theta=10000.0,
        rms_norm_eps=1e-5,
        vocab_size=256,
        sharded=True,
    ),
    dict(
        name="f16_theta",
        desc="6 query heads, 2 KV heads, head_dim 16, f16 weights, rope_theta 1e6, "
        "sliding window 12, rms_norm_eps 1e-6",
        dtype="f16",
        hidden_size=96,
        num_attention_heads=6,
        num_key_value_heads=2,
        head_dim=16,
        intermediate_size=192,
        sliding_window=12,
        rope_theta=1000000.0,
        rms_norm_eps=1e-6,
        vocab_size=320,
    ),
    dict(
        name="nowindow_f32",
        desc="sliding_window null (full causal attention, Mistral v0.2 style), 4 query heads, "
        "1 KV head, f32 weights; config.json has NO head_dim key (like the real v0.1 config: "
        "head_dim = hidden_size / num_attention_heads = 16)",
        dtype="f32",
        hidden_size=64,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=None,  # omitted from config.json
        intermediate_size=160,
        sliding_window=None,
        rope_theta=10000.0,
        rms_norm_eps=1e-5,
        vocab_size=320,
    ),
    # Long prompts: the kernels tile and chunk at 32/64/128/256 rows, and a chat prompt with a
    # system message is hundreds of tokens. The greedy prompt is the long prefix itself, so a
    # prefill of P tokens (crossing the executor's prefill chunk) precedes the decode steps.
    dict(
        name="long320_window512_bf16",
        desc="320-token sequence, 300-token greedy prompt; sliding window 512, larger than the "
        "prompt; 4 query heads, 1 KV head, head_dim 16, bf16 weights",
        dtype="bf16",
        hidden_size=64,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=16,
        intermediate_size=128,
        sliding_window=512,
        rope_theta=10000.0,
        rms_norm_eps=1e-5,
        vocab_size=256,
        T=320,
        P=300,
        N=20,
    ),
    dict(
        name="long1000_window100_f32",
        desc="1000-token sequence, 990-token greedy prompt; sliding window 100, larger than a "
        "64-row tile and crossed ten times; 8 query heads, 2 KV heads, head_dim 16, f32 weights",
        dtype="f32",
        hidden_size=64,
        num_attention_heads=8,
        num_key_value_heads=2,
        head_dim=16,
        intermediate_size=128,
        sliding_window=100,
        rope_theta=10000.0,
        rms_norm_eps=1e-5,
        vocab_size=256,
        T=1000,
        P=990,
        N=10,
    ),
]


def lengths(case):
    """(T, P, N) of a case."""
    return case.get("T", T), case.get("P", P), case.get("N", N)

NUM_LAYERS = 2


def config_dict(case):
    """config.json contents, mirroring the real Mistral-7B-Instruct-v0.1 config."""
    d = {
        "architectures": ["MistralForCausalLM"],
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": case["hidden_size"],
        "initializer_range": 0.02,
        "intermediate_size": case["intermediate_size"],
        "max_position_embeddings": 32768,
        "model_type": "mistral",
        "num_attention_heads": case["num_attention_heads"],
        "num_hidden_layers": NUM_LAYERS,
        "num_key_value_heads": case["num_key_value_heads"],
        "rms_norm_eps": case["rms_norm_eps"],
        "rope_theta": case["rope_theta"],
        "sliding_window": case["sliding_window"],
        "tie_word_embeddings": False,
        "torch_dtype": DTYPE_NAMES[case["dtype"]],
        "transformers_version": transformers.__version__,
        "use_cache": True,
        "vocab_size": case["vocab_size"],
    }
    if case["head_dim"] is not None:
        d["head_dim"] = case["head_dim"]
    return d


def build_model(cfg, seed, store_dtype):
    """Random model with a "lively" init, rounded to store_dtype, computing in f32."""
    config = MistralConfig(**{k: v for k, v in cfg.items() if k not in ("architectures", "torch_dtype", "transformers_version")})
    config._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = MistralForCausalLM(config).to(torch.float32)
    model.config._attn_implementation = "eager"
    model.eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                # RMSNorm weights uniform in [0.5, 1.5]
                p.copy_(torch.rand(p.shape, generator=g) * 1.0 + 0.5)
            elif name == "model.embed_tokens.weight":
                p.copy_(torch.randn(p.shape, generator=g) * 1.0)
            elif p.dim() == 2:
                # std ~ 1.6/sqrt(fan_in): attention scores and logits of order a few units
                fan_in = p.shape[1]
                p.copy_(torch.randn(p.shape, generator=g) * (1.6 / fan_in**0.5))
            else:
                raise RuntimeError(f"unexpected parameter {name} {tuple(p.shape)}")
            # round to the storage dtype and back
            p.copy_(p.to(store_dtype).to(torch.float32))
    return model


def top2_margin(logits):
    """top1 - top2 for each row of a [R, V] tensor."""
    top = torch.topk(logits, 2, dim=-1).values
    return top[:, 0] - top[:, 1]


@torch.no_grad()
def compute_case(model, cfg, seed, case):
    T, P, N = lengths(case)
    vocab = cfg["vocab_size"]
    g = torch.Generator().manual_seed(seed + 1000003)
    tokens = torch.randint(3, vocab, (T,), generator=g, dtype=torch.int64)
    tokens[0] = 1  # BOS
    logits = model(input_ids=tokens[None], use_cache=False).logits[0].float()

    prompt = tokens[:P].clone()
    out = model.generate(
        input_ids=prompt[None],
        attention_mask=torch.ones(1, P, dtype=torch.int64),
        do_sample=False,
        max_new_tokens=N,
        min_new_tokens=N,
        eos_token_id=None,
        pad_token_id=0,
        output_scores=True,
        output_logits=True,
        return_dict_in_generate=True,
    )
    seq = out.sequences[0]
    assert seq.shape[0] == P + N, seq.shape
    greedy = seq[P:].clone()
    # raw logits for each generated step (KV-cached incremental decode)
    greedy_logits = torch.stack([l[0] for l in out.logits]).float()
    assert torch.equal(greedy_logits.argmax(-1), greedy)
    greedy_margin = top2_margin(greedy_logits).min().item()

    # Cross-check: one teacher-forced forward over prompt+greedy must give the same argmaxes
    # and (nearly) the same logits as the cached decode.
    tf = model(input_ids=seq[None], use_cache=False).logits[0].float()
    tf_rows = tf[P - 1 : P + N - 1]
    assert torch.equal(tf_rows.argmax(-1), greedy), "cached decode and full forward disagree"
    cache_vs_full = (tf_rows - greedy_logits).abs().max().item()

    tf_margin = top2_margin(logits).min().item()
    return dict(
        tokens=tokens,
        logits=logits.contiguous(),
        prompt=prompt,
        greedy=greedy,
        greedy_logits=greedy_logits.contiguous(),
        greedy_margin=greedy_margin,
        tf_margin=tf_margin,
        cache_vs_full=cache_vs_full,
    )


def sliding_window_semantics_check(case):
    """Pin the mask semantics: query i sees key j iff i - W < j <= i.

    Perturb the value vector (v_proj output) of token j in the LAST layer only, so
    that the effect on logits is exactly one attention hop; record which positions'
    logits change.
    """
    cfg = config_dict(case)
    W = cfg["sliding_window"]
    model = build_model(cfg, 12345, torch.float32)
    g = torch.Generator().manual_seed(777)
    L = 3 * (W or 8) + 5
    tokens = torch.randint(3, cfg["vocab_size"], (L,), generator=g)
    tokens[0] = 1
    last = model.model.layers[-1].self_attn.v_proj
    state = {"j": None}

    def hook(_mod, _inp, out):
        if state["j"] is None:
            return out
        out = out.clone()
        out[:, state["j"], :] += 10.0
        return out

    h = last.register_forward_hook(hook)
    bad = []
    with torch.no_grad():
        base = model(input_ids=tokens[None], use_cache=False).logits[0]
        for j in range(L):
            state["j"] = j
            pert = model(input_ids=tokens[None], use_cache=False).logits[0]
            state["j"] = None
            changed = (pert - base).abs().amax(-1) > 1e-4
            for i in range(L):
                if W is None:
                    expect = j <= i
                else:
                    expect = (i - W < j) and (j <= i)
                if bool(changed[i]) != expect:
                    bad.append((i, j, bool(changed[i]), expect))
    h.remove()
    label = "i - W < j <= i" if W is not None else "j <= i (full causal)"
    if bad:
        print(f"SLIDING WINDOW CHECK FAILED for {case['name']} (W={W}); expected {label}.")
        print("  first mismatches (i, j, changed, expected):", bad[:10])
        sys.exit(2)
    print(f"sliding-window semantics OK for {case['name']} (W={W}, L={L}): query i sees key j iff {label}")
    if W is not None:
        # explicit spot checks for the boundary, reported for the record
        i = L - 1
        print(f"  e.g. i={i}: j={i - W + 1} visible, j={i - W} not visible")


def write_model(case, cfg, model, outdir):
    store = DTYPES[case["dtype"]]
    sd = {k: v.detach().to(store).contiguous() for k, v in model.state_dict().items()}
    # The state dict must contain exactly the real model's tensor names (no tied / buffers).
    assert "lm_head.weight" in sd and "model.embed_tokens.weight" in sd
    assert not any("rotary" in k for k in sd), list(sd)
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    meta = {"format": "pt"}
    if not case.get("sharded"):
        safetensors.torch.save_file(sd, os.path.join(outdir, "model.safetensors"), metadata=meta)
        return ["model.safetensors"]
    # Shard 1: embeddings, layer 0 and the attention of layer 1.
    # Shard 2: the rest of layer 1 (norms, MLP), final norm, lm_head.
    names = sorted(sd)
    s1 = [n for n in names if n.startswith("model.embed_tokens.") or n.startswith("model.layers.0.") or n.startswith("model.layers.1.self_attn.")]
    s2 = [n for n in names if n not in s1]
    files = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    weight_map = {}
    for fname, group in zip(files, (s1, s2)):
        safetensors.torch.save_file({n: sd[n] for n in group}, os.path.join(outdir, fname), metadata=meta)
        for n in group:
            weight_map[n] = fname
    total = sum(t.numel() * t.element_size() for t in sd.values())
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(outdir, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    return files + ["model.safetensors.index.json"]


def verify(case, outdir, res):
    """Reload everything from disk and check it reproduces the golden logits."""
    T, P, N = lengths(case)
    gold = safetensors.torch.load_file(os.path.join(outdir, "golden.safetensors"))
    assert gold["tokens"].dtype == torch.int64 and gold["tokens"].shape == (T,)
    assert gold["prompt"].dtype == torch.int64 and gold["prompt"].shape == (P,)
    assert gold["greedy"].dtype == torch.int64 and gold["greedy"].shape == (N,)
    assert gold["logits"].dtype == torch.float32 and gold["logits"].shape == (T, case["vocab_size"])
    store = DTYPES[case["dtype"]]
    for fname in os.listdir(outdir):
        if fname.startswith("model") and fname.endswith(".safetensors"):
            for k, v in safetensors.torch.load_file(os.path.join(outdir, fname)).items():
                assert v.dtype == store, (fname, k, v.dtype)
    model = MistralForCausalLM.from_pretrained(outdir, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    c = model.config
    assert c.sliding_window == case["sliding_window"], c.sliding_window
    hd = case["head_dim"] or case["hidden_size"] // case["num_attention_heads"]
    assert c.head_dim == hd, c.head_dim
    theta = getattr(c, "rope_theta", None)
    if theta is None:
        theta = c.rope_parameters["rope_theta"]
    assert theta == case["rope_theta"], theta
    assert c.rms_norm_eps == case["rms_norm_eps"]
    with torch.no_grad():
        logits = model(input_ids=gold["tokens"][None], use_cache=False).logits[0].float()
        out = model.generate(
            input_ids=gold["prompt"][None],
            attention_mask=torch.ones(1, P, dtype=torch.int64),
            do_sample=False,
            max_new_tokens=N,
            min_new_tokens=N,
            eos_token_id=None,
            pad_token_id=0,
        )
    diff = (logits - gold["logits"]).abs().max().item()
    assert diff <= 1e-5, f"{case['name']}: reloaded logits differ by {diff}"
    assert torch.equal(out[0, P:], gold["greedy"]), f"{case['name']}: reloaded greedy differs"
    return diff


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=OUT_ROOT, help="output root (default: tests/golden)")
    ap.add_argument("--only", nargs="*", help="case names to (re)generate")
    args = ap.parse_args()

    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    torch.use_deterministic_algorithms(True)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"safetensors {safetensors.__version__}, numpy {np.__version__}")

    # 1. pin the sliding-window semantics of the installed transformers
    for case in CASES:
        if case["name"] in ("window8_bf16", "nowindow_f32"):
            sliding_window_semantics_check(case)

    # 2. the cases
    for case in CASES:
        if args.only and case["name"] not in args.only:
            continue
        cfg = config_dict(case)
        store = DTYPES[case["dtype"]]
        # Try SEED_TRIES seeds; keep the one whose smallest top1-top2 gap (over the greedy
        # steps and the teacher-forced rows) is largest. The greedy margin must exceed
        # MIN_MARGIN; the teacher-forced one is best effort (recorded in meta.json).
        chosen = None
        for seed in range(SEED_TRIES):
            model = build_model(cfg, seed, store)
            res = compute_case(model, cfg, seed, case)
            if res["greedy_margin"] <= MIN_MARGIN:
                continue
            score = min(res["greedy_margin"], res["tf_margin"])
            if chosen is None or score > chosen[0]:
                chosen = (score, seed, model, res)
        if chosen is None:
            raise SystemExit(f"{case['name']}: no seed gives greedy margin > {MIN_MARGIN}")
        _, seed, model, res = chosen
        T, P, N = lengths(case)

        outdir = os.path.join(args.out, case["name"])
        if os.path.isdir(outdir):
            shutil.rmtree(outdir)
        os.makedirs(outdir)
        files = write_model(case, cfg, model, outdir)
        safetensors.torch.save_file(
            {k: res[k] for k in ("tokens", "logits", "prompt", "greedy", "greedy_logits")},
            os.path.join(outdir, "golden.safetensors"),
            metadata={"format": "pt"},
        )
        lg = res["logits"]
        # distinct greedy tokens and whether the greedy run is "alive"
        meta = {
            "case": case["name"],
            "description": case["desc"],
            "storage_dtype": DTYPE_NAMES[case["dtype"]],
            "compute_dtype": "float32",
            "attn_implementation": "eager",
            "seed": seed,
            "T": T,
            "P": P,
            "N": N,
            "num_hidden_layers": NUM_LAYERS,
            "hidden_size": case["hidden_size"],
            "num_attention_heads": case["num_attention_heads"],
            "num_key_value_heads": case["num_key_value_heads"],
            "head_dim": case["head_dim"] or case["hidden_size"] // case["num_attention_heads"],
            "head_dim_in_config": case["head_dim"] is not None,
            "intermediate_size": case["intermediate_size"],
            "sliding_window": case["sliding_window"],
            "rope_theta": case["rope_theta"],
            "rms_norm_eps": case["rms_norm_eps"],
            "vocab_size": case["vocab_size"],
            "model_files": files,
            "min_greedy_margin": res["greedy_margin"],
            "min_teacher_forced_margin": res["tf_margin"],
            "teacher_forced_margin_ok": res["tf_margin"] > MIN_MARGIN,
            "max_abs_diff_cached_decode_vs_full_forward": res["cache_vs_full"],
            "logits_abs_max": lg.abs().max().item(),
            "logits_std": lg.std().item(),
            "greedy_distinct_tokens": int(torch.unique(res["greedy"]).numel()),
            "golden_tensors": {
                "tokens": f"I64 [{T}] (tokens[0] = BOS = 1)",
                "logits": f"F32 [{T}, {case['vocab_size']}] teacher-forced, one forward over tokens",
                "prompt": f"I64 [{P}] = tokens[:{P}]",
                "greedy": f"I64 [{N}] new tokens of greedy generate(prompt), no EOS stop",
                "greedy_logits": f"F32 [{N}, {case['vocab_size']}] logits that produced each greedy token (KV-cached decode)",
            },
            "torch_version": torch.__version__,
            "transformers_version": transformers.__version__,
            "safetensors_version": safetensors.__version__,
            "generated_by": "tools/golden/make_golden.py",
        }
        diff = verify(case, outdir, res)
        meta["reload_max_abs_diff"] = diff
        with open(os.path.join(outdir, "meta.json"), "w") as f:
            json.dump(meta, f, indent=2)
            f.write("\n")
        size = sum(os.path.getsize(os.path.join(outdir, x)) for x in os.listdir(outdir))
        print(
            f"{case['name']}: seed {seed}, min greedy margin {res['greedy_margin']:.4f}, "
            f"min teacher-forced margin {res['tf_margin']:.4f}, |logits| max {meta['logits_abs_max']:.2f} "
            f"std {meta['logits_std']:.2f}, greedy distinct {meta['greedy_distinct_tokens']}, "
            f"cache-vs-full {res['cache_vs_full']:.2e}, reload diff {diff:.1e}, {size} bytes"
        )
    print("done")


if __name__ == "__main__":
    main()
