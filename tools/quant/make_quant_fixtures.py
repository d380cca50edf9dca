#!/usr/bin/env python3
"""Writes the golden fixtures of GGML's block formats for crates/mistral-core/tests/quant.rs.

Run (numpy and gguf-py 0.19, llama.cpp's `gguf` package):

    python tools/quant/make_quant_fixtures.py [--ggml-ref /tmp/ggml_ref]

Everything is drawn from one seeded numpy generator (SEED), so a rerun rewrites the same bytes.
It writes, in crates/mistral-core/tests/data/quant/:

- `<fmt>.bin` for the 7 formats: raw blocks (random bytes with edge scales forced in) and
  `gguf.quants.dequantize` of them: the dequantization fixtures.
- `<fmt>_quantize.bin`: f32 inputs (random blocks plus all-zero, constant, one-outlier, tiny and
  huge blocks, rounding ties) and the reference quantizer's bytes.
  - q8_0, q4_0, q4_1, q5_0: `gguf.quants.quantize` (gguf-py has no K-quant quantizer).
  - q4_k, q5_k, q6_k: only with `--ggml-ref`, the C harness tools/quant/ggml_ref.c built from
    ggml-quants.c (see tools/quant/README.md), which runs `quantize_row_*_ref` itself.
  With `--ggml-ref` the script also checks that the C code agrees with gguf-py, byte for byte, on
  every legacy quantize fixture and bit for bit on every dequantize fixture, and stops if not.

File format (little-endian): magic b"GGQF", then u32 version (1), ggml type id, block count,
block bytes, block elements; then the blocks' bytes; then the blocks' values as f32. In
`<fmt>.bin` the bytes are the input and the values the expected output; in `<fmt>_quantize.bin`
the values are the input and the bytes the expected output.

Scales that are NaN or inf (f16 exponent 31) are left out of the dequantization fixtures:
llama.cpp does not define what such a block means, and numpy's f16 arithmetic need not produce
the same NaN payloads as the C code. Every finite f16 is fair game, subnormals included.
"""

import argparse
import struct
import subprocess
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

SEED = 20240611
OUT = Path(__file__).resolve().parents[2] / "crates/mistral-core/tests/data/quant"

# name, ggml type, block elems, block bytes, offsets of the f16 scale fields
FORMATS = {
    "q8_0": (T.Q8_0, 32, 34, [0]),
    "q4_0": (T.Q4_0, 32, 18, [0]),
    "q4_1": (T.Q4_1, 32, 20, [0, 2]),
    "q5_0": (T.Q5_0, 32, 22, [0]),
    "q4_k": (T.Q4_K, 256, 144, [0, 2]),
    "q5_k": (T.Q5_K, 256, 176, [0, 2]),
    "q6_k": (T.Q6_K, 256, 210, [208]),
}
GGUF_PY_QUANTIZES = ["q8_0", "q4_0", "q4_1", "q5_0"]

# f16 bit patterns every scale field is forced to in turn: zeros of both signs, the smallest and
# largest subnormals, one, the largest finite values of both signs, a tiny normal.
EDGE_F16 = [0x0000, 0x8000, 0x0001, 0x03FF, 0x8001, 0x83FF, 0x3C00, 0xBC00, 0x7BFF, 0xFBFF, 0x0400]


def random_finite_f16(rng, n):
    """n f16 bit patterns with exponent < 31 (no inf, no NaN)."""
    bits = rng.integers(0, 1 << 16, size=n, dtype=np.uint32)
    exp = (bits >> 10) & 0x1F
    bits = np.where(exp == 0x1F, bits & ~np.uint32(0x4000), bits)  # exponent 31 -> 15
    return bits.astype(np.uint16)


def write(path, ggml_type, elems, nbytes, blocks, values):
    n = blocks.shape[0]
    assert blocks.shape == (n, nbytes) and blocks.dtype == np.uint8
    assert values.shape == (n, elems) and values.dtype == np.float32
    header = b"GGQF" + struct.pack("<5I", 1, int(ggml_type), n, nbytes, elems)
    path.write_bytes(header + blocks.tobytes() + values.astype("<f4").tobytes())
    print(f"wrote {path.relative_to(OUT.parents[4])}: {n} blocks, {path.stat().st_size} bytes")


def dequant_blocks(rng, fmt):
    """Raw blocks: random bytes, then edge patterns forced into the scales and the quants."""
    _, elems, nbytes, scale_offsets = FORMATS[fmt]
    n = 128 if elems == 32 else 64
    b = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    for off in scale_offsets:
        f16 = random_finite_f16(rng, n)
        # Cycle every edge value through every scale field, at different phases per field so
        # that e.g. d = 0 meets both dmin = 0 and dmin = max.
        for i in range(n):
            k = i + 3 * off
            if k % 2 == 0:
                f16[i] = EDGE_F16[(k // 2) % len(EDGE_F16)]
        b[:, off : off + 2] = f16.view(np.uint8).reshape(n, 2)
    scale_fields = set()
    for off in scale_offsets:
        scale_fields |= {off, off + 1}
    rest = [i for i in range(nbytes) if i not in scale_fields]
    # Extreme quants: all nibbles 0, all 15 (and 6-bit K scales all 63 / all 0), alternating.
    for i, fill in zip(range(0, n, 8), [0x00, 0xFF, 0x0F, 0xF0, 0xFF, 0x00, 0xAA, 0x55] * 4):
        b[i, rest] = fill
    return b


def quantize_inputs(rng, elems):
    """f32 blocks chosen to reach every branch of the reference quantizers."""
    blocks = []
    g = lambda s=1.0: (rng.standard_normal(elems) * s).astype(np.float32)
    blocks.append(np.zeros(elems, np.float32))  # all zero
    blocks.append(np.full(elems, 0.75, np.float32))  # constant
    blocks.append(np.full(elems, -3.0, np.float32))
    for outlier in [8.0, -8.0]:
        x = g(0.01)
        x[elems // 3] = outlier
        blocks.append(x)  # one outlier
    for s in [1e-8, 1e-20, 1e-37, 1e-40, 1e-44]:
        blocks.append(g(s))  # tiny: f16 scale 0, subnormal f32 scales, infinite inverse scales
    blocks.append(g(1e5))  # huge: the f16 scale overflows to inf
    x = np.arange(elems, dtype=np.float32) % 8 - 3.5  # halves: rounding ties
    x[0] = 127.0
    blocks.append(x)
    x = g()
    x[1], x[2] = 4.0, -4.0  # two weights of the largest magnitude: the first one sets the sign
    blocks.append(x)
    blocks.append(np.abs(g()) + 1.0)  # all positive: the K-quant min clamps to 0
    blocks.append(-np.abs(g()) - 1.0)  # all negative
    x = g()
    x[: elems // 2] *= 1e-3  # sub-blocks of very different magnitudes
    blocks.append(x)
    if elems == 256:
        x = g()
        x[32:64] = 0.0  # one all-zero sub-block
        x[200:216] = 0.0
        blocks.append(x)
    n_random = (128 if elems == 32 else 48) - len(blocks)
    for _ in range(n_random):
        blocks.append(g(10.0 ** rng.uniform(-3, 2)))
    return np.stack(blocks).astype(np.float32)


def run_ref(exe, mode, fmt, data):
    out = subprocess.run([exe, mode, fmt], input=data.tobytes(), capture_output=True, check=True)
    return out.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--ggml-ref", help="the built tools/quant/ggml_ref.c harness")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    # The tiny and huge blocks overflow inverse scales on purpose; numpy would warn about each.
    np.seterr(all="ignore")

    for fmt, (ty, elems, nbytes, _) in FORMATS.items():
        blocks = dequant_blocks(rng, fmt)
        values = quants.dequantize(blocks, ty).reshape(-1, elems).astype(np.float32)
        if args.ggml_ref:
            c = np.frombuffer(run_ref(args.ggml_ref, "dequantize", fmt, blocks), np.uint32)
            assert np.array_equal(c, values.view(np.uint32).ravel()), f"{fmt}: C dequant differs"
        write(OUT / f"{fmt}.bin", ty, elems, nbytes, blocks, values)

    for fmt, (ty, elems, nbytes, _) in FORMATS.items():
        x = quantize_inputs(rng, elems)
        c = None
        if args.ggml_ref:
            c = np.frombuffer(run_ref(args.ggml_ref, "quantize", fmt, x), np.uint8).reshape(-1, nbytes)
        if fmt in GGUF_PY_QUANTIZES:
            want = quants.quantize(x, ty).reshape(-1, nbytes)
            if c is not None:
                bad = np.nonzero((c != want).any(axis=1))[0]
                assert len(bad) == 0, f"{fmt}: C and gguf-py quantizers differ on blocks {bad}"
        elif c is not None:
            want = c
        else:
            print(f"skipped {fmt}_quantize.bin: gguf-py has no {fmt} quantizer, pass --ggml-ref")
            continue
        write(OUT / f"{fmt}_quantize.bin", ty, elems, nbytes, want, x)


if __name__ == "__main__":
    main()
