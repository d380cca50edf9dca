#!/usr/bin/env bash
# Installs NVRTC 12.9 (compiler library + the headers kernels may include) from PyPI wheels so the
# CUDA backend's kernel-compile test runs on machines without a GPU or CUDA toolkit. Idempotent.
#
# Exports nothing: mistral-cuda finds the library itself (see crates/mistral-cuda/src/nvrtc_path.rs):
#   1. $MISTRAL_NVRTC_LIB (a libnvrtc.so path)  2. $CUDA_HOME, $CUDA_PATH  3. /usr/local/cuda
#   4. the pip `nvidia` namespace package of python3 (`nvidia/cuda_nvrtc/lib/libnvrtc.so.12`)
#   5. the system loader (libnvrtc.so.13 / .12 / libnvrtc.so in ld.so.cache)
set -euo pipefail
PY=${PYTHON:-python3}
have() {
  "$PY" - <<'PYEOF' 2>/dev/null
import os, glob, nvidia
root = os.path.dirname(nvidia.__path__[0])
ok = glob.glob(os.path.join(root, "nvidia", "cuda_nvrtc", "lib", "libnvrtc.so.12*"))
raise SystemExit(0 if ok else 1)
PYEOF
}
if have; then
  echo "install-nvrtc: NVRTC 12.9 wheels already present"
  exit 0
fi
"$PY" -m pip install -q --disable-pip-version-check \
  'nvidia-cuda-nvrtc-cu12==12.9.*' 'nvidia-cuda-runtime-cu12==12.9.*' 'nvidia-cuda-nvcc-cu12==12.9.*'
have || { echo "install-nvrtc: libnvrtc.so.12 not found after pip install" >&2; exit 1; }
echo "install-nvrtc: installed NVRTC 12.9 wheels"
