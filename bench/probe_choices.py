"""What each head student chose on its weak labels (layer, C or k, the cross-validated agreement
with held-out weak labels), per arm and seed, from a finished run and its cache.

    HARNESS_HOME=H python bench/probe_choices.py RUN_RECORD > table.md

RUN_RECORD is a run's ``record.json``; the head stages' ``choices.json`` are read from
``$HARNESS_HOME/cache/head/<key>/``. The gold heads (the probes' ceilings) are listed too.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(record: str) -> None:
    run = json.loads(Path(record).read_text())
    keys = {s["node"]: s["key"] for s in run["manifest"]["stages"]}
    cache = Path(os.environ["HARNESS_HOME"]) / "cache" / "head"
    print("| stage | layer | setting | agreement with held-out labels (cross-validated) |")
    print("|---|---|---|---|")
    for node, spec in sorted(run["graph"]["stages"].items(), key=lambda kv: kv[1]["label"]):
        if spec["kind"] != "head":
            continue
        for cap, c in json.loads((cache / keys[node] / "choices.json").read_text()).items():
            setting = f"C {c['C']:g}" if "C" in c else f"k {c['k']}"
            agree = "n/a" if c["cv_agreement"] is None else f"{c['cv_agreement']:.3f}"
            print(f"| {spec['label']} | {c['layer']} | {setting} | {agree} |")


if __name__ == "__main__":
    main(sys.argv[1])
