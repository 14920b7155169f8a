"""How long vLLM's engine takes to start on this machine, with its engine-core and worker
processes (``VLLM_ENABLE_V1_MULTIPROCESSING=1``) and in the caller's process (``0``, the vllm
backend's CPU default): each in a fresh process, alternating, ``--repeats`` times; prints
each time and the ratio of the medians.

    python bench/vllm_start.py MODEL_FOLDER [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

CHILD = """
import sys, time
if __name__ == "__main__":
    from harness import DecodeConfig
    from harness.plugins import registry
    backend = registry().make("backends", "vllm")
    started = time.perf_counter()
    backend.generate(sys.argv[1], ["jump twice"] * 8, DecodeConfig(max_new_tokens=8))
    print("engine:", time.perf_counter() - started, flush=True)
"""


def once(model: str, multiprocessing: str) -> tuple[float, float]:
    """Seconds to the first decode (the engine's start, and 8 short prompts), and the whole
    process's wall time (imports and shutdown too)."""
    env = {**os.environ, "VLLM_ENABLE_V1_MULTIPROCESSING": multiprocessing,
           "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, model], env=env, capture_output=True,
                         text=True, check=True).stdout
    (line,) = [x for x in out.splitlines() if x.startswith("engine: ")]
    return float(line.split()[1]), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    times: dict[str, list[tuple[float, float]]] = {"1": [], "0": []}
    for _ in range(args.repeats):
        for mode in times:
            times[mode].append(once(args.model, mode))
            print(f"VLLM_ENABLE_V1_MULTIPROCESSING={mode}: engine and first decode "
                  f"{times[mode][-1][0]:.1f} s, process {times[mode][-1][1]:.1f} s", flush=True)
    for i, what in enumerate(("engine and first decode", "process")):
        own, apart = (statistics.median(t[i] for t in times[m]) for m in ("0", "1"))
        print(f"{what}: median {apart:.1f} s apart, {own:.1f} s in-process, "
              f"ratio {own / apart:.2f}")


if __name__ == "__main__":
    main()
