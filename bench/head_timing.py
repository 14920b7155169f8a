"""How long one logistic probe fit takes on a features entry: what sizes a head stage (a
stage fits layers x settings x folds x repeats such fits, then one refit).

    python bench/head_timing.py FEATURES_ENTRY LAYER [N]

Fits ``LogisticRegression`` (as ``plugins/trainers/probe.py`` does: standardised, lbfgs,
max_iter 5000) on the first N rows (default 2,400: one fold's training share of 3,000) at
each C of the probe's default grid, against labels that carry nothing (random classes), so
nothing about accuracy is measured. Prints seconds and iterations per fit.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from harness import outputs
from harness_plugins.trainers.probe import estimator


def main(entry: str, layer: int, n: int = 2400) -> None:
    x = outputs.features(Path(entry)).layers[layer][:n]
    y = np.random.default_rng(0).integers(0, 3, size=len(x)).astype(str)
    print(f"{len(x)} rows x {x.shape[1]} features, layer {layer}")
    for c in (0.001, 0.01, 0.1, 1.0):
        start = time.perf_counter()
        fit = estimator("logistic", c, len(x), 0).fit(x, y)
        took = time.perf_counter() - start
        print(f"C {c:g}: {took:.1f} s, {int(fit[-1].n_iter_[0])} iterations")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:4]))
