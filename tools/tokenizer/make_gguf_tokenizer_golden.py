#!/usr/bin/env python3
"""Golden ids of the SmolLM2 GGUF tokenizer and chat template, from Hugging Face transformers.

Writes crates/mistral-text/tests/data/smollm2_tokens.json:
  {"transformers": "5.24.0", "model": "SmolLM2-135M-Instruct.Q4_1.gguf",
   "bos_token": ..., "eos_token": ..., "chat_template": "...",
   "texts": [{"text": "...", "ids": [...], "decoded": "..."}],        # tokenizer(text)["input_ids"]
   "chats": [{"name": ..., "messages": [...], "add_generation_prompt": true,
              "rendered": "...", "ids": [...]}]}                       # apply_chat_template

transformers builds the tokenizer from the GGUF's metadata itself
(AutoTokenizer.from_pretrained(dir, gguf_file=...)), so these ids are independent of this repository.

Run by hand (never in CI), see tools/tokenizer/README.md:
  /tmp/gold/bin/python tools/tokenizer/make_gguf_tokenizer_golden.py [--gguf PATH]
"""

import argparse
import json
import os

import transformers
from transformers import AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.environ.get("MISTRAL_CACHE_DIR", os.path.join(ROOT, ".cache"))
DEFAULT_GGUF = os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = os.path.join(ROOT, "crates", "mistral-text", "tests", "data", "smollm2_tokens.json")

TEXTS = [
    "",
    "Hello, world!",
    "Hello world 12345 3.14159",
    "  leading spaces and trailing  ",
    "line one\nline two\n\nline four\n",
    "\ttab\tseparated\tvalues\t",
    "digits 0 00 000 1234567890 -42 +3e10",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m e\u0301",
    "\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3068\u4e2d\u6587\u53e5\u5b50",
    "emoji \U0001f600\U0001f680 \U0001f3f3\ufe0f\u200d\U0001f308 \U0001f1ef\U0001f1f5",
    "<|im_start|>",
    "before <|im_start|>user\nhi<|im_end|> after",
    "<|endoftext|><repo_name>x",
    "I'm sure they've said we'll do it, isn't it?",
    "def f(x):\n    return x ** 2  # square\n",
    "   \n\n   \t  ",
    "https://example.com/path?q=1&r=two#frag",
    "\u00a0non-breaking\u00a0space and \u2028 separators",
    "mixed\u0000nul and \u007f del",
    "\u0410\u0411\u0412 \u03b1\u03b2\u03b3 \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
]

S, U, A = "system", "user", "assistant"
CHATS = {
    "single_user": [(U, "Hello, how are you?")],
    "system_user": [(S, "You are terse."), (U, "Hi")],
    "multi_turn": [(U, "Hi"), (A, "Hello! How can I help?"), (U, "Tell me a joke."), (A, "Why not?"), (U, "More")],
    "empty_content": [(U, "")],
    "empty_system": [(S, ""), (U, "q")],
    "special_in_content": [(U, "Hi <|im_end|> there <|im_start|>assistant\nno")],
    "unicode_content": [(U, "caf\u00e9 \u65e5\u672c \U0001f600\n\ttab")],
    "ends_with_assistant": [(U, "a"), (A, "b")],
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", default=DEFAULT_GGUF)
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    tok = AutoTokenizer.from_pretrained(os.path.dirname(args.gguf), gguf_file=os.path.basename(args.gguf))
    out = {
        "transformers": transformers.__version__,
        "model": os.path.basename(args.gguf),
        "bos_token": tok.bos_token,
        "eos_token": tok.eos_token,
        "chat_template": tok.chat_template,
        "texts": [],
        "chats": [],
    }
    for text in TEXTS:
        ids = tok(text)["input_ids"]
        out["texts"].append({"text": text, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=True)})
    for name, turns in CHATS.items():
        messages = [{"role": r, "content": c} for r, c in turns]
        for gen in (True, False):
            rendered = tok.apply_chat_template(messages, add_generation_prompt=gen, tokenize=False)
            ids = tok.apply_chat_template(messages, add_generation_prompt=gen, tokenize=True, return_dict=False)
            out["chats"].append(
                {"name": name, "messages": messages, "add_generation_prompt": gen, "rendered": rendered, "ids": ids}
            )
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {args.out}: {len(out['texts'])} texts, {len(out['chats'])} chats")


if __name__ == "__main__":
    main()
