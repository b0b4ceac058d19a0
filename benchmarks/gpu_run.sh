#!/usr/bin/env bash
# What a lent GPU machine runs, from the repository root, with `.gpu` carried (see gpu_check.py):
# the carried Keras wheels, the tests that run only on CUDA, then the check. Output also in $OUT.
set -eo pipefail
OUT=${OUT:-/tmp}
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/wheels/*.whl
export PYTHONPATH=src:/tmp/site KERAS_BACKEND=torch PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
# the CUDA tests; then the CPU kernels' tests, which an AVX-512 host CPU runs in full (conftest keeps
# models on the CPU unless a test moves them)
python3 -m pytest -q -p no:cacheprovider tests/test_device.py tests/test_precision.py tests/test_kernels.py \
    tests/test_direct_step.py tests/test_token_inference.py 2>&1 | tail -15 | tee "$OUT/tests.txt"
python3 benchmarks/gpu_check.py --arrays .gpu/imdb.npz "$@" 2>&1 | tee "$OUT/gpu_check.md"
