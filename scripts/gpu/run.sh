#!/usr/bin/env bash
# Run on the GPU machine from the repo root (no Rust toolchain there), after scripts/gpu/bundle.sh
# ran on the build machine: runs every bundled CUDA and wgpu test binary (parity, golden models,
# the short benchmark), writes full logs to bundle/logs/, and prints a summary table last.
# EMULATE=1 rehearses the whole script on a machine without a GPU: every process gets the CUDA
# emulator (bundle/emu/libcuda.so, crates/cuda-emu) preloaded as its libcuda.
set -uo pipefail
cd "$(dirname "$0")/../.."
if [ "${EMULATE:-0}" = 1 ]; then
  export LD_PRELOAD=$(pwd)/bundle/emu/libcuda.so
fi
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/nvidia/lib64:${LD_LIBRARY_PATH:-}
if compgen -G ".gl/*.deb" >/dev/null; then  # Vulkan loader for wgpu (see GPU.md)
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
[ -d bundle/bin ] || { echo "run.sh: no bundle/ here: run scripts/gpu/bundle.sh on the build machine" >&2; exit 2; }
built=$(cat bundle/ROOT)
if [ "$built" != "$(pwd)" ] && [ ! -e "$built/tests/golden" ]; then
  mkdir -p "$built/tests" && ln -sfn "$(pwd)/tests/golden" "$built/tests/golden"
fi
mkdir -p bundle/logs
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true

summary=()
for t in bundle/bin/*; do
  name=$(basename "$t")
  start=$(date +%s%N)
  timeout 240 "$t" --test-threads=1 --nocapture >"bundle/logs/$name.log" 2>&1
  rc=$?
  secs=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  passed=$(grep -ho '[0-9]* passed' "bundle/logs/$name.log" | awk '{s+=$1} END {print s+0}')
  failed=$(grep -ho '[0-9]* failed' "bundle/logs/$name.log" | awk '{s+=$1} END {print s+0}')
  skipped=$(grep -c 'skipped: no CUDA device' "bundle/logs/$name.log")
  status=$([ $rc -eq 0 ] && echo ok || echo "FAIL(rc=$rc)")
  summary+=("$(printf '%-34s %-12s %6s %6s %7s %8ss' "$name" "$status" "$passed" "$failed" "$skipped" "$secs")")
done

# Where a backend diverges from the CPU, if it does: every intermediate of a golden model.
for backend in cuda wgpu; do
  for m in tests/golden/head128_bf16_sharded tests/golden/gqa4_f32; do
    log="bundle/logs/compare-$backend-$(basename "$m").log"
    bundle/mistral compare --model "$m" --tokens 1,17,42,99,5,8,13,21,34,55,89,144,233,3,7,11,19 \
      --backend $backend >"$log" 2>&1
    rc=$?
    echo "compare $backend $(basename "$m"): rc=$rc $(tail -n 1 "$log")"
  done
done

# The benchmark (cargo xtask bench --quick): CUDA and wgpu at the 7B shape, table in its log.
timeout 240 bundle/mistral-bench --quick --json bundle/logs/bench.json >bundle/logs/bench.md 2>bundle/logs/bench.err
echo "mistral-bench --quick: rc=$? (table: bundle/logs/bench.md, JSON: bundle/logs/bench.json)"
cat bundle/logs/bench.md
# What CUDA graphs save: the decode rows again with graph replay off (crates/mistral-cuda/src/graph.rs).
MISTRAL_CUDA_GRAPHS=0 timeout 120 bundle/mistral-bench --quick --backend cuda --filter "e2e/decode" \
  >bundle/logs/bench-nographs.md 2>bundle/logs/bench-nographs.err
echo "mistral-bench decode without CUDA graphs: rc=$?"
cat bundle/logs/bench-nographs.md
# The opt-in one-term GEMM (activations rounded to bf16, as cuBLAS-based stacks run), for the
# comparison with torch.matmul; the default keeps f32-class accuracy with 3 terms.
MISTRAL_CUDA_FAST_GEMM=1 timeout 120 bundle/mistral-bench --quick --backend cuda --filter "gemm/" \
  >bundle/logs/bench-fastgemm.md 2>bundle/logs/bench-fastgemm.err
echo "mistral-bench GEMM with MISTRAL_CUDA_FAST_GEMM=1: rc=$?"
cat bundle/logs/bench-fastgemm.md
# Quantized weights (issue #13): Q4_K and Q8_0 decode GEMVs against copy bandwidth, and Q4_K_M
# decode end to end against its own limit, on CUDA and on wgpu (the laptop path) on the same card.
for backend in cuda wgpu; do
  for q in "--dtype q4_k --filter gemv/" "--dtype q8_0 --filter gemv/" "--quant q4_k_m --filter e2e/decode"; do
    tag=$(echo "$backend $q" | tr -c 'a-z0-9_\n' '-' | tr -s '-')
    # shellcheck disable=SC2086
    timeout 120 bundle/mistral-bench --quick --backend $backend $q \
      >"bundle/logs/bench-$tag.md" 2>"bundle/logs/bench-$tag.err"
    echo "mistral-bench --backend $backend $q: rc=$?"
    grep '^| [ge]' "bundle/logs/bench-$tag.md"
  done
done

echo
echo "== failures and benchmark lines (full logs in bundle/logs/) =="
grep -h '^FAIL \|panicked at\|^BENCH' bundle/logs/*.log | head -60
echo
printf '%-34s %-12s %6s %6s %7s %9s\n' binary status passed failed skipped time
printf '%s\n' "${summary[@]}"
