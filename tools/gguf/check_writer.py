"""Reads a GGUF file with llama.cpp's reference reader (gguf-py) and prints what it finds.

Run by hand, to check that the files `mistral_gguf::write_gguf` writes are what llama.cpp reads:

    cargo run -p mistral-gguf --example write_sample -- /tmp/sample.gguf 64 > /tmp/ours.txt
    /tmp/gold/bin/python tools/gguf/check_writer.py /tmp/sample.gguf > /tmp/theirs.txt
    diff <(grep '^tensor' /tmp/ours.txt) <(grep '^tensor' /tmp/theirs.txt)

(`/tmp/gold` is a venv with `pip install gguf`, gguf-py 0.19.) The example prints one `tensor`
line per tensor as it wrote it; this script prints the same line as gguf-py read it, so the diff
is empty when names, GGML types, dims (GGML order: `ne[0]` first, which is gguf-py's `shape`),
data-section offsets and byte lengths agree. It also prints every key with gguf-py's types and
value, and checks what gguf-py itself does not: that every tensor starts at a multiple of the
alignment, that the data section starts where it should, that tensors do not overlap, and that
the F32 tensors the example fills with 0, 1, 2, ... hold those values. Exits 1 on a failed check.
"""

import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType


def field_value(field):
    """The value of a key as gguf-py decodes it; nested arrays as their flattened parts."""
    if field.types[0] == GGUFValueType.ARRAY and len(field.types) > 2:
        # gguf-py flattens nested arrays: after the outer element type and count come, for each
        # inner array, its element type, its count and its elements.
        parts = [p.tolist() for p in field.parts[5:]]
        return f"<nested; parts {parts}>"
    return field.contents()


def main(path):
    reader = GGUFReader(path)
    failures = []
    version = reader.fields["GGUF.version"].contents()
    print(f"version {version} alignment {reader.alignment} data_offset {reader.data_offset}")
    for name, field in reader.fields.items():
        if name.startswith("GGUF."):
            continue
        types = "/".join(t.name for t in field.types)
        print(f"kv {name} {types} {field_value(field)!r}")

    if reader.data_offset % reader.alignment != 0:
        failures.append(f"data offset {reader.data_offset} is not aligned")
    end = 0
    for t in sorted(reader.tensors, key=lambda t: t.data_offset):
        offset = t.data_offset - reader.data_offset
        dims = [int(d) for d in t.shape]
        print(
            f"tensor {t.name} {t.tensor_type.name} dims={dims} offset={offset} n_bytes={t.n_bytes}"
        )
        if offset % reader.alignment != 0:
            failures.append(f"{t.name}: offset {offset} is not aligned")
        if t.data_offset < end:
            failures.append(f"{t.name} overlaps the tensor before it")
        end = t.data_offset + t.n_bytes
        if t.tensor_type.name == "F32":
            want = np.arange(t.n_elements, dtype=np.float32)
            if not np.array_equal(np.asarray(t.data, dtype=np.float32).reshape(-1), want):
                failures.append(f"{t.name}: F32 values are not 0, 1, 2, ...")

    for f in failures:
        print(f"FAILED: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
