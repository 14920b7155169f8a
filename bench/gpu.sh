#!/usr/bin/env bash
# The GPU checks, in one script for a machine with a CUDA GPU and the project installed (with
# Ray, for the check under --executor ray):
#   1. tests/test_gpu.py (`pytest -m gpu`): bf16 sft through a worker, LoRA, hf greedy on CUDA
#      against the CPU's, GPU memory back after a worker exits, a suite under --executor ray on
#      the GPU with the local executor's results;
#   2. bench/calibrate.py at the paper's shapes (random weights, nothing downloaded): measured
#      GPU memory, step time and decoding against what `harness plan` estimates.
# Each part runs even if the one before failed; everything lands in OUT_DIR.
#
#   bash bench/gpu.sh OUT_DIR [calibrate.py's options, e.g. --models Qwen/Qwen1.5-0.5B]
set -uo pipefail
out=${1:?usage: bash bench/gpu.sh OUT_DIR [calibrate options]}
shift
mkdir -p "$out"
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
step() { echo "== $(date -u +%H:%M:%S) $*"; }

step machine
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, transformers; print('torch', torch.__version__, 'cuda',
torch.version.cuda, 'transformers', transformers.__version__)"; } 2>&1 | tee "$out/machine.txt"

step "pytest -m gpu"
python3 -m pytest -m gpu tests/test_gpu.py -p no:cacheprovider -n 0 -rA --durations=0 2>&1 \
  | tee "$out/pytest-gpu.txt"
echo "pytest exit: ${PIPESTATUS[0]}" | tee -a "$out/pytest-gpu.txt"

step calibrate
python3 bench/calibrate.py --out "$out/calibration-gpu.json" "$@" 2>&1 | tee "$out/calibrate.txt"
echo "calibrate exit: ${PIPESTATUS[0]}" | tee -a "$out/calibrate.txt"
step done
