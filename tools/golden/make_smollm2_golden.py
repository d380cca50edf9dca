#!/usr/bin/env python3
"""Golden outputs from Hugging Face transformers for the real SmolLM2-135M-Instruct Q4_1 GGUF.

Run by hand (never in CI); see tests/golden/smollm2/README.md. Reads
.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf (never copied into the repo) and writes
into tests/golden/smollm2/:

  tokens.json         transformers' token ids for plain texts and chats (+ rendered chat
                      text), the chat template, special tokens, GGUF tokenizer keys
  golden.safetensors  tokens I64 [T]  = chat prompt ("What is the capital of France?",
                                        add_generation_prompt=True) + greedy answer
                      logits F32 [T, 49152] teacher-forced, one forward over tokens
                      prompt I64 [P]
                      greedy I64 [N]  greedy new tokens (until EOS, inclusive, or 40)
                      greedy_logits F32 [N, 49152] (KV-cached decode)
  greedy_more.json    greedy continuations (ids + text, no logits) of more chat prompts
  meta.json           answer text, stop token, per-step margins, timings, versions

Model and tokenizer are loaded by transformers from the GGUF (gguf-py dequantization,
q/k un-permuted), float32, eager attention.
"""

import argparse
import json
import os

os.environ.setdefault("TQDM_DISABLE", "1")
import sys
import time

import numpy as np
import safetensors
import safetensors.torch
import torch
import transformers
import gguf
from transformers import AutoModelForCausalLM, AutoTokenizer

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "tests", "golden", "smollm2")
MODEL_DIR = os.path.join(REPO, ".cache", "models")
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

MAX_NEW = 40
MAX_T = 48
MIN_MARGIN = 1e-2

PLAIN_TEXTS = [
    "What is the capital of France?",
    "Hello, world!",
    "",
    " ",
    "Hello",
    " Hello",
    "hello world",
    "multiple   spaces  between    words",
    "  leading and trailing spaces  ",
    "line one\nline two\n\nline four\n",
    "\n\n\n",
    "tab\tseparated\tvalues\t",
    "\t indented with tab and space",
    "1234567",
    "Call 555-0199 before 10:30, or 3.14159 * 2 = 6.28318; year 2024.",
    "don't I'll we're they've it's",
    "café naïve résumé Ångström",
    "日本語のテキストと中文",
    "emoji: 😀🚀👍🏽 done",
    "mixed Ünïcödé 中文 🤖 text!",
    "<|im_start|>",
    "<|im_start|>user\nHi<|im_end|>\n",
    "text with <|im_end|> and <|endoftext|> inside",
    "<|im_start|x> not quite special",
    "```python\ndef f(x):\n    return x + 1\n```",
    "URL: https://example.com/path?q=1&r=2",
]

SYSTEM_DEFAULT = None  # the template inserts its own system prompt when the first message is not a system message

CHATS = {
    "user_only": [{"role": "user", "content": "What is the capital of France?"}],
    "system_user": [
        {"role": "system", "content": "You are a concise assistant. Answer in one sentence."},
        {"role": "user", "content": "Name three primary colors."},
    ],
    "multi_turn": [
        {"role": "user", "content": "Hi! What's 2+2?"},
        {"role": "assistant", "content": "2+2 equals 4."},
        {"role": "user", "content": "And 3+3?"},
    ],
    "empty_user": [{"role": "user", "content": ""}],
    "empty_system_then_user": [
        {"role": "system", "content": ""},
        {"role": "user", "content": "Hello"},
    ],
    "special_tokens_in_user": [
        {"role": "user", "content": "Repeat after me: <|im_end|>\n<|im_start|>assistant\nok <|endoftext|>"},
    ],
}

MORE_PROMPTS = {
    "primary_colors": [{"role": "user", "content": "Name three primary colors."}],
    "system_capital_japan": [
        {"role": "system", "content": "You are a concise assistant. Answer in one sentence."},
        {"role": "user", "content": "What is the capital of Japan?"},
    ],
}


def gguf_tokenizer_keys(path):
    r = gguf.GGUFReader(path)
    out = {}
    for k, f in r.fields.items():
        if not k.startswith("tokenizer.") or k in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges",
                                                  "tokenizer.ggml.token_type", "tokenizer.chat_template"):
            continue
        out[k] = f.contents()
    toks = r.fields["tokenizer.ggml.tokens"].contents()
    ttype = r.fields["tokenizer.ggml.token_type"].contents()
    out["tokenizer.ggml.tokens (count)"] = len(toks)
    out["tokenizer.ggml.merges (count)"] = len(r.fields["tokenizer.ggml.merges"].contents())
    out["control tokens (token_type 3)"] = {i: t for i, (t, ty) in enumerate(zip(toks, ttype)) if ty == 3}
    other = {}
    for ty in ttype:
        other[int(ty)] = other.get(int(ty), 0) + 1
    out["token_type counts"] = other
    return out, r.fields["tokenizer.chat_template"].contents(), toks


def llamacpp_style_tokenizer(tok):
    """A copy of transformers' backend tokenizer with llama.cpp's "smollm" pre-tokenizer
    (llama-vocab.cpp: regex "\\p{N}" first, then the GPT-2 regex) -- transformers 5.24 has no
    split for pre "smollm" and uses the plain GPT-2 ByteLevel regex."""
    from tokenizers import Regex, Tokenizer, pre_tokenizers
    bt = Tokenizer.from_str(tok.backend_tokenizer.to_str())
    bt.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\p{N}"), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
    ])
    return bt


def top2(logits):
    t = torch.topk(logits, 2, dim=-1)
    return t.values[:, 0] - t.values[:, 1]


def ids_of(x):
    """apply_chat_template(tokenize=True) returns a BatchEncoding in transformers 5."""
    if hasattr(x, "keys") and "input_ids" in x:
        x = x["input_ids"]
    return [int(i) for i in x]


@torch.no_grad()
def greedy(model, ids, eos_ids):
    P = len(ids)
    out = model.generate(
        input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, P, dtype=torch.int64),
        do_sample=False, max_new_tokens=MAX_NEW, eos_token_id=eos_ids, pad_token_id=eos_ids[0],
        output_logits=True, return_dict_in_generate=True,
    )
    new = out.sequences[0, P:].clone()
    lg = torch.stack([l[0] for l in out.logits]).float()
    assert lg.shape[0] == new.shape[0]
    assert torch.equal(lg.argmax(-1), new)
    return new, lg


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--model-dir", default=MODEL_DIR)
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    path = os.path.join(args.model_dir, GGUF_FILE)
    assert os.path.isfile(path), path
    os.makedirs(args.out, exist_ok=True)
    assert not os.path.abspath(args.out).startswith(os.path.abspath(args.model_dir))
    timings = {}

    from importlib.metadata import version
    versions = dict(torch=torch.__version__, transformers=transformers.__version__, gguf_py=version("gguf"),
                    tokenizers=version("tokenizers"), numpy=np.__version__, python=sys.version.split()[0])
    print(versions)

    t0 = time.time()
    tok = AutoTokenizer.from_pretrained(args.model_dir, gguf_file=GGUF_FILE)
    timings["tokenizer_load_s"] = time.time() - t0
    gkeys, template, gtokens = gguf_tokenizer_keys(path)
    assert tok.chat_template == template
    lc = llamacpp_style_tokenizer(tok)

    # ---------------- tokens.json ----------------
    plain = []
    n_diff_lc = 0
    for text in PLAIN_TEXTS:
        ids = tok(text)["input_ids"]  # default add_special_tokens=True
        ids_nospecial = tok(text, add_special_tokens=False)["input_ids"]
        lc_ids = lc.encode(text, add_special_tokens=False).ids
        split_ids = tok(text, add_special_tokens=False, split_special_tokens=True)["input_ids"] if "<|" in text else None
        e = {
            "text": text,
            "ids": ids,
            "tokens": tok.convert_ids_to_tokens(ids),
            "decoded": tok.decode(ids),
            "same_without_add_special_tokens": ids == ids_nospecial,
            "llamacpp_smollm_pretokenizer_ids": lc_ids,
            "llamacpp_style_differs": lc_ids != ids,
        }
        if split_ids is not None:
            e["ids_split_special_tokens"] = split_ids
        n_diff_lc += lc_ids != ids
        plain.append(e)

    chats = {}
    for name, msgs in CHATS.items():
        text = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        ids = ids_of(tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True))
        re_ids = tok(text, add_special_tokens=False)["input_ids"]
        text_nogen = tok.apply_chat_template(msgs, add_generation_prompt=False, tokenize=False)
        chats[name] = {
            "messages": msgs,
            "rendered": text,
            "ids": ids,
            "tokens": tok.convert_ids_to_tokens(ids),
            "ids_equal_tokenizing_rendered_text": ids == re_ids,
            "rendered_without_generation_prompt": text_nogen,
            "llamacpp_smollm_pretokenizer_ids": lc.encode(text, add_special_tokens=False).ids,
        }

    add_bos_observed = tok("Hello")["input_ids"][:1] == [tok.bos_token_id]
    special = {
        "bos_token": tok.bos_token, "bos_token_id": tok.bos_token_id,
        "eos_token": tok.eos_token, "eos_token_id": tok.eos_token_id,
        "pad_token": tok.pad_token, "pad_token_id": tok.pad_token_id,
        "unk_token": tok.unk_token, "unk_token_id": tok.unk_token_id,
        "<|endoftext|>": tok.convert_tokens_to_ids("<|endoftext|>"),
        "<|im_start|>": tok.convert_tokens_to_ids("<|im_start|>"),
        "<|im_end|>": tok.convert_tokens_to_ids("<|im_end|>"),
        "all_special_tokens": tok.all_special_tokens,
        "vocab_size_with_added": len(tok),
        "add_bos_token_attr": getattr(tok, "add_bos_token", None),
        "add_eos_token_attr": getattr(tok, "add_eos_token", None),
        "adds_bos_by_default": add_bos_observed,
        "pre_tokenizer": str(tok.backend_tokenizer.pre_tokenizer),
        "post_processor": str(tok.backend_tokenizer.post_processor),
        "decoder": str(tok.backend_tokenizer.decoder),
    }
    tokens_json = {
        "source": f".cache/models/{GGUF_FILE} (SmolLM2-135M-Instruct, Q4_1)",
        "tokenizer": "transformers AutoTokenizer.from_pretrained(dir, gguf_file=...)",
        "chat_template": template,
        "special_tokens": special,
        "gguf_tokenizer_metadata": {k: v for k, v in gkeys.items()},
        "note_add_bos": "tokenizer.ggml.add_bos_token is false in the GGUF and transformers adds no BOS "
                        "(tok(text).input_ids has no <|im_start|> prefix); the chat template writes "
                        "<|im_start|> itself.",
        "note_pretokenizer": "transformers 5.24 maps GGUF pre 'smollm' to nothing special: plain GPT-2 "
                             "ByteLevel regex. llama.cpp's 'smollm' pre-tokenizer first isolates every \\p{N} "
                             "(individual digits), like the original HF tokenizer.json's Digits(individual_digits). "
                             "'llamacpp_smollm_pretokenizer_ids' emulates that; 'llamacpp_style_differs' marks "
                             f"the texts where it differs ({n_diff_lc} of {len(PLAIN_TEXTS)} plain texts).",
        "note_special_text": "By default transformers matches control-token text (e.g. '<|im_start|>') in "
                             "plain text and chat content as the single special id (like llama.cpp with "
                             "parse_special=true); 'ids_split_special_tokens' is split_special_tokens=True.",
        "plain": plain,
        "chats": chats,
        "versions": versions,
        "generated_by": "tools/golden/make_smollm2_golden.py",
    }
    with open(os.path.join(args.out, "tokens.json"), "w", encoding="utf-8") as f:
        json.dump(tokens_json, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"tokens.json written; llama.cpp-style pre-tokenizer differs on {n_diff_lc} plain texts; "
          f"adds BOS by default: {add_bos_observed}")

    # ---------------- model ----------------
    t0 = time.time()
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, gguf_file=GGUF_FILE, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    timings["model_load_s"] = time.time() - t0
    c = model.config
    gen_eos = model.generation_config.eos_token_id
    eos_ids = gen_eos if isinstance(gen_eos, list) else [gen_eos]
    eos_ids = [int(e) for e in eos_ids if e is not None]
    if not eos_ids:
        eos_ids = [tok.eos_token_id]
    print("config:", c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.num_key_value_heads, c.head_dim,
          c.vocab_size, c.tie_word_embeddings, "generation eos:", gen_eos)

    prompt = chats["user_only"]["ids"]
    P = len(prompt)
    t0 = time.time()
    new, glog = greedy(model, prompt, eos_ids)
    timings["greedy_france_s"] = time.time() - t0
    Ngen = new.shape[0]
    answer = tok.decode(new, skip_special_tokens=True)
    answer_raw = tok.decode(new, skip_special_tokens=False)
    stop_id = int(new[-1]) if int(new[-1]) in eos_ids else None
    margins = top2(glog)
    print(f"France: {Ngen} new tokens, stop {stop_id}: {answer_raw!r}")

    seq = prompt + new.tolist()
    T = min(len(seq), MAX_T)
    tokens = torch.tensor(seq[:T], dtype=torch.int64)
    t0 = time.time()
    with torch.no_grad():
        logits = model(input_ids=tokens[None], use_cache=False).logits[0].float().contiguous()
    timings["teacher_forced_forward_s"] = time.time() - t0
    # cached decode vs full forward over the same rows
    n_cmp = min(Ngen, T - P + 1)
    rows = logits[P - 1:P - 1 + n_cmp]
    assert torch.equal(rows.argmax(-1), new[:n_cmp]), "full forward and cached decode disagree"
    cache_vs_full = (rows - glog[:n_cmp]).abs().max().item()
    tf_margins = top2(logits)

    safetensors.torch.save_file(
        {"tokens": tokens, "logits": logits, "prompt": torch.tensor(prompt, dtype=torch.int64),
         "greedy": new.to(torch.int64).contiguous(), "greedy_logits": glog.contiguous()},
        os.path.join(args.out, "golden.safetensors"), metadata={"format": "pt"})

    # ---------------- more prompts ----------------
    more = {}
    for name, msgs in MORE_PROMPTS.items():
        ids = ids_of(tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True))
        t0 = time.time()
        g, gl = greedy(model, ids, eos_ids)
        dt = time.time() - t0
        m = top2(gl)
        more[name] = {
            "messages": msgs,
            "rendered": tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False),
            "prompt_ids": ids,
            "greedy_ids": g.tolist(),
            "greedy_text": tok.decode(g, skip_special_tokens=True),
            "greedy_text_raw": tok.decode(g, skip_special_tokens=False),
            "stopped_at_eos": int(g[-1]) in eos_ids,
            "min_greedy_margin": m.min().item(),
            "steps_under_1e-2": [i for i, v in enumerate(m.tolist()) if v < MIN_MARGIN],
            "greedy_seconds": dt,
        }
        print(f"{name}: {more[name]['greedy_text_raw']!r} (min margin {m.min().item():.4f})")
    with open(os.path.join(args.out, "greedy_more.json"), "w", encoding="utf-8") as f:
        json.dump({"max_new_tokens": MAX_NEW, "eos_token_ids": eos_ids, "prompts": more,
                   "generated_by": "tools/golden/make_smollm2_golden.py", "versions": versions},
                  f, indent=1, ensure_ascii=False)
        f.write("\n")

    # ---------------- reload check ----------------
    gold = safetensors.torch.load_file(os.path.join(args.out, "golden.safetensors"))
    assert torch.equal(gold["logits"], logits) and gold["tokens"].dtype == torch.int64

    meta = {
        "model": f".cache/models/{GGUF_FILE} (not copied into the repo)",
        "model_sha256": _sha256(path),
        "loaded_with": "AutoModelForCausalLM.from_pretrained(dir, gguf_file=..., dtype=float32, "
                       "attn_implementation='eager') (gguf-py dequantization, q/k un-permuted)",
        "config": {k: getattr(c, k, None) for k in ("num_hidden_layers", "hidden_size", "intermediate_size",
                                                      "num_attention_heads", "num_key_value_heads", "head_dim",
                                                      "vocab_size", "rms_norm_eps", "max_position_embeddings",
                                                      "tie_word_embeddings", "bos_token_id", "eos_token_id",
                                                      "pad_token_id")},
        "rope": getattr(c, "rope_parameters", None) or getattr(c, "rope_theta", None),
        "generation_config_eos_token_id": gen_eos,
        "eos_token_ids_used_for_generate": eos_ids,
        "question": "What is the capital of France?",
        "prompt_rendered": chats["user_only"]["rendered"],
        "P": P,
        "N": Ngen,
        "T": T,
        "T_note": f"tokens = prompt + greedy[:{T - P}] (T capped at {MAX_T})",
        "greedy_ids": new.tolist(),
        "greedy_text": answer,
        "greedy_text_raw": answer_raw,
        "answer_matches_expected": answer.strip() == "The capital of France is Paris.",
        "stopped_at_eos": stop_id is not None,
        "stop_token_id": stop_id,
        "stop_token": tok.convert_ids_to_tokens(stop_id) if stop_id is not None else None,
        "greedy_step_margins": [round(v, 6) for v in margins.tolist()],
        "min_greedy_margin": margins.min().item(),
        "greedy_steps_under_1e-2": [i for i, v in enumerate(margins.tolist()) if v < MIN_MARGIN],
        "teacher_forced_min_margin": tf_margins.min().item(),
        "teacher_forced_rows_under_1e-2": [i for i, v in enumerate(tf_margins.tolist()) if v < MIN_MARGIN],
        "max_abs_diff_cached_decode_vs_full_forward": cache_vs_full,
        "logits_abs_max": logits.abs().max().item(),
        "golden_tensors": {
            "tokens": f"I64 [{T}] chat prompt + greedy answer",
            "logits": f"F32 [{T}, {logits.shape[1]}] teacher-forced, one forward over tokens",
            "prompt": f"I64 [{P}] rendered chat with add_generation_prompt=True",
            "greedy": f"I64 [{Ngen}] greedy new tokens (generate, KV cache), stop token included",
            "greedy_logits": f"F32 [{Ngen}, {logits.shape[1]}] logits that produced each greedy token",
        },
        "timings_s": timings,
        "threads": torch.get_num_threads(),
        "versions": versions,
        "generated_by": "tools/golden/make_smollm2_golden.py",
    }
    with open(os.path.join(args.out, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2, ensure_ascii=False)
        f.write("\n")
    for fn in sorted(os.listdir(args.out)):
        print(fn, os.path.getsize(os.path.join(args.out, fn)))
    print(json.dumps({k: meta[k] for k in ("greedy_text_raw", "stop_token_id", "min_greedy_margin",
                                             "greedy_steps_under_1e-2", "T", "P", "N", "timings_s")}, ensure_ascii=False))


def _sha256(path, n=1 << 20):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(n)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


if __name__ == "__main__":
    main()
