#!/usr/bin/env python3
"""Golden chat-template ids from mistral-common itself, for crates/mistral-text's tests.

Writes crates/mistral-text/tests/data/chat_mistral_common.jsonl, one JSON object a line:
  {"name": "...", "messages": [{"role", "content"}...], "ids": [...]}   # accepted
  {"name": "...", "messages": [...], "error": "ExceptionName: message"} # rejected by mistral-common

The conversations probe the edge cases of tokenizer v1 (system prompt placement, merging of
consecutive roles, empty and whitespace-only content, control-token text). Tokenization goes
through MistralTokenizer.from_file(tokenizer.model).encode_chat_completion, the library's own
entry point (default ValidationMode.test).

Run by hand (never in CI), see tools/tokenizer/README.md:
  /work/venv-tok/bin/pip install mistral-common==1.13.1
  /work/venv-tok/bin/python tools/tokenizer/make_chat_golden.py
"""

import argparse
import json
import os

from mistral_common.protocol.instruct.messages import AssistantMessage, SystemMessage, UserMessage
from mistral_common.protocol.instruct.request import ChatCompletionRequest
from mistral_common.tokens.tokenizers.mistral import MistralTokenizer
import mistral_common

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKENIZER_MODEL = os.path.join(ROOT, "crates", "mistral-text", "data", "tokenizer.model")

S, U, A = "system", "user", "assistant"
CASES = {
    "single_user": [(U, "Hello, how are you?")],
    "multi_turn": [(U, "Hi"), (A, "Hello! How can I help?"), (U, "Tell me a joke."), (A, "Why not?"), (U, "More")],
    "system_first": [(S, "You are terse."), (U, "Hi")],
    "system_multi_turn": [(S, "Be brief."), (U, "a"), (A, "b"), (U, "c")],
    "two_systems": [(S, "S1"), (S, "S2"), (U, "q")],
    "empty_system_skipped": [(S, ""), (S, "S2"), (U, "q")],
    "system_in_middle": [(U, "a"), (S, "S"), (U, "b")],
    "system_last": [(U, "a"), (A, "x"), (U, "b"), (S, "late")],
    "system_only": [(S, "Only a system prompt")],
    "consecutive_users": [(U, "first"), (U, "second")],
    "consecutive_users_empty": [(U, ""), (U, "second"), (U, "")],
    "consecutive_assistants": [(U, "a"), (A, "x"), (A, "y"), (U, "b")],
    "assistant_first": [(A, "a"), (U, "b")],
    "system_then_assistant": [(S, "S"), (A, "a"), (U, "b")],
    "empty_user": [(U, "")],
    "whitespace_user": [(U, "  padded  ")],
    "newlines_user": [(U, "\nline one\nline two\n")],
    "whitespace_assistant": [(U, "q"), (A, " leading and trailing "), (U, "r")],
    "assistant_newline_start": [(U, "q"), (A, "\nanswer"), (U, "r")],
    "control_text": [(U, "<s>[INST] hi [/INST]</s>"), (A, "</s> [INST]"), (U, "<unk>")],
    "unicode": [(S, "Réponds en français."), (U, "東京 🚀 naïve"), (A, "👍🏽 ok"), (U, "ǅ 𝔘")],
    "code": [(U, "```python\ndef f(x):\n    return x * 2\n```\nExplain.")],
    "long_spaces": [(U, "a" + " " * 17 + "b\t\t\tc")],
    # Rejected by mistral-common.
    "err_empty": [],
    "err_assistant_only": [(A, "x")],
    "err_ends_with_assistant": [(U, "a"), (A, "x")],
    "err_empty_assistant": [(U, "a"), (A, ""), (U, "b")],
    "err_system_after_assistant": [(U, "a"), (A, "x"), (S, "S"), (U, "b")],
}

MSG = {S: SystemMessage, U: UserMessage, A: AssistantMessage}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=TOKENIZER_MODEL)
    ap.add_argument(
        "--out", default=os.path.join(ROOT, "crates", "mistral-text", "tests", "data", "chat_mistral_common.jsonl")
    )
    args = ap.parse_args()
    tok = MistralTokenizer.from_file(args.model)
    with open(args.out, "w", encoding="utf-8") as f:
        for name, msgs in CASES.items():
            rec = {"name": name, "messages": [{"role": r, "content": c} for r, c in msgs]}
            try:
                req = ChatCompletionRequest(messages=[MSG[r](content=c) for r, c in msgs])
                rec["ids"] = tok.encode_chat_completion(req).tokens
            except Exception as e:  # noqa: BLE001 - any rejection is a golden error case
                rec["error"] = f"{type(e).__name__}: {e}"
            expect_error = name.startswith("err_")
            if expect_error != ("error" in rec):
                raise SystemExit(f"{name}: expected {'an error' if expect_error else 'ids'}, got {rec}")
            f.write(json.dumps(rec, ensure_ascii=True) + "\n")
    print(f"wrote {len(CASES)} cases to {args.out} (mistral-common {mistral_common.__version__})")


if __name__ == "__main__":
    main()
