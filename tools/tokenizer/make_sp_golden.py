#!/usr/bin/env python3
"""Golden token ids from the real SentencePiece library, for crates/mistral-text's tests.

Writes crates/mistral-text/tests/data/sp_golden.jsonl, one JSON object a line:
  {"text": "...", "ids": [...]}     # sp.encode(text)  (no BOS/EOS)
  {"decode": [...], "text": "..."}  # sp.decode(ids)   (byte pieces, controls, <unk> mixed in)

Run by hand (never in CI), see tools/tokenizer/README.md:
  python3 -m venv /work/venv-tok && /work/venv-tok/bin/pip install sentencepiece==0.2.3
  /work/venv-tok/bin/python tools/tokenizer/make_sp_golden.py
Deterministic: the random strings come from a fixed seed.
"""

import argparse
import json
import os
import random

import sentencepiece as spm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKENIZER_MODEL = os.path.join(ROOT, "crates", "mistral-text", "data", "tokenizer.model")

FIXED = [
    "", " ", "  ", "   ", "a", " a", "a ", "  a  ", "Hello world", "Hello, world!",
    "The quick brown fox jumps over the lazy dog.", "hello\nworld", "\n", "\n\n", " \n ",
    "line1\r\nline2", "\ttab\tseparated\t", "a    b     c", "trailing spaces   ", "   leading spaces",
    "0", "42", "3.14159", "1234567890", "2024-01-01T12:00:00Z", "-1e-9", "$1,000,000",
    "<s>", "</s>", "<unk>", "<s>[INST] hi [/INST]</s>", "[INST]", "[/INST]", " [INST] ", "<0x41>",
    "\u2581", "\u2581\u2581x", "a\u2581b",
    "naïve café — 東京 🚀", "Ünïcödé", "Ελληνικά", "Русский текст", "עברית", "العربية",
    "हिन्दी", "한국어 텍스트", "日本語のテキスト", "中文测试", "ไทย", "Tiếng Việt",
    "🚀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷🇩🇪", "😀😃😄", "∑∫√∞≠≤", "ǅ", "𝔘𝔫𝔦", "\ue000", "\U0010fffd",
    "e\u0301", "\u200b", "\ufeffbom", "\x00", "\x01\x02\x7f", "a\x00b", "\u3000full width\u3000",
    "ﬁ ligature", "ℌℍ", "½ ¼", "x" * 300, " " * 40, "\n" * 10, "ab" * 100,
    'def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n',
    '{"role": "user", "content": "Hi"}', "<html><body>&amp;</body></html>",
    "SELECT * FROM t WHERE x = 'y';", "https://example.com/path?q=1&r=2#frag",
    "Write a Python function to calculate fibonacci numbers",
]

# Code point ranges for random strings: ASCII-heavy, with Latin, CJK, emoji, rare and control chars.
RANGES = [
    (0x20, 0x7E, 30), (0x09, 0x0A, 3), (0x00, 0x1F, 1), (0xA0, 0x24F, 6), (0x370, 0x4FF, 3),
    (0x590, 0x6FF, 2), (0x900, 0x97F, 2), (0x3040, 0x30FF, 3), (0x4E00, 0x9FFF, 6),
    (0xAC00, 0xD7A3, 2), (0x1F300, 0x1FAFF, 4), (0x2000, 0x2BFF, 3), (0xE000, 0xF8FF, 1),
    (0x10000, 0x10FFFF, 1),
]


def random_string(rng: random.Random) -> str:
    weights = [w for _, _, w in RANGES]
    out = []
    for _ in range(rng.randint(0, 40)):
        lo, hi, _ = rng.choices(RANGES, weights)[0]
        c = rng.randint(lo, hi)
        if 0xD800 <= c <= 0xDFFF:
            c = 0x41
        out.append(chr(c))
        if rng.random() < 0.15:
            out.append(" " * rng.randint(1, 3))
    return "".join(out)


def random_ids(rng: random.Random, vocab: int) -> list:
    ids = []
    for _ in range(rng.randint(1, 12)):
        r = rng.random()
        if r < 0.45:
            ids.append(rng.randint(3, 258))  # byte pieces <0x00>..<0xFF>
        elif r < 0.55:
            ids.append(rng.randint(0, 2))  # <unk>, <s>, </s>
        else:
            ids.append(rng.randint(259, vocab - 1))
    return ids


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=TOKENIZER_MODEL)
    ap.add_argument("--out", default=os.path.join(ROOT, "crates", "mistral-text", "tests", "data", "sp_golden.jsonl"))
    ap.add_argument("--random", type=int, default=300)
    args = ap.parse_args()

    sp = spm.SentencePieceProcessor(model_file=args.model)
    rng = random.Random(20240101)
    texts = FIXED + [random_string(rng) for _ in range(args.random)]
    # Valid decode cases: byte pieces of real multi-byte characters, split and joined.
    utf8_cases = [[3 + b for b in s.encode()] for s in ["東京", "é", "🚀", "👨‍👩‍👧"]]
    decodes = utf8_cases + [[1, 22557], [28705, 28705], [28705, 22557], [35, 22557], [0, 22557]]
    decodes += [random_ids(rng, sp.get_piece_size()) for _ in range(200)]
    with open(args.out, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t, "ids": sp.encode(t)}, ensure_ascii=True) + "\n")
        for ids in decodes:
            f.write(json.dumps({"decode": ids, "text": sp.decode(ids)}, ensure_ascii=True) + "\n")
    print(f"wrote {len(texts)} encode and {len(decodes)} decode cases to {args.out} (sentencepiece {spm.__version__})")


if __name__ == "__main__":
    main()
