#!/usr/bin/env bash
# Run HERE (a machine with the Rust toolchain, no GPU needed): builds the CUDA and wgpu test
# binaries and the `mistral` CLI in release, and copies them, stripped, into the git-ignored
# bundle/ folder that travels with the checkout to the GPU machine (see /work/shared/GPU.md).
# Then, on the GPU machine, from the repo root: scripts/gpu/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}
pkgs=(-p mistral-cuda)
[ -d crates/mistral-wgpu ] && pkgs+=(-p mistral-wgpu)

rm -rf bundle && mkdir -p bundle/bin
CARGO_TARGET_DIR=$target cargo build --release -p mistral-cli --bin mistral -p mistral-benches --bin mistral-bench
CARGO_TARGET_DIR=$target cargo test --release --no-run --message-format=json "${pkgs[@]}" >bundle/build.json
python3 - "$root" <<'PY'
import json, os, shutil, sys
root = sys.argv[1]
for line in open("bundle/build.json"):
    m = json.loads(line)
    exe = m.get("executable") if m.get("reason") == "compiler-artifact" else None
    if not exe or not m["profile"]["test"]:
        continue
    pkg = m["package_id"].split("#")[0].rstrip("/").split("/")[-1].split("@")[0]
    kind = m["target"]["kind"][0]
    name = f"{pkg}-{m['target']['name']}" if kind != "lib" else f"{pkg}-unit"
    shutil.copy(exe, os.path.join("bundle/bin", name))
    print("bundled", name)
PY
rm bundle/build.json
cp "$target/release/mistral" "$target/release/mistral-bench" bundle/
strip bundle/bin/* bundle/mistral bundle/mistral-bench
# The CUDA emulator, for a rehearsal of run.sh without a GPU (EMULATE=1 scripts/gpu/run.sh).
mkdir -p bundle/emu
cp "$(ls -t "$target"/release/build/cuda-emu-*/out/libcuda.so | head -1)" bundle/emu/libcuda.so
# Test binaries find tests/golden through the absolute path they were built at; run.sh links it.
echo "$root" >bundle/ROOT
du -sh bundle
