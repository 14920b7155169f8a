"""Every planned stage of the leaderboard suites as data: id, spec JSON, a cache key, and the
same read back from JSON. Two commits' dumps compared show whether a change to how specs are
held moved any id or key (the code digest is held fixed, since any core edit moves it by
design).

    python bench/spec_dump.py OUT.json   # at each commit, then: cmp BEFORE.json AFTER.json
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from harness import planner
from harness.graph import StageSpec
from harness.plugins import registry
from harness.schemas import Suite


def dump(out: Path) -> int:
    planner.check_model = lambda *a, **k: None  # models need not be present to plan
    planner.code.digest = lambda *a: "core"
    rows: dict[str, list[str]] = {}
    for path in sorted(Path("leaderboard/suites").glob("*.yaml")):
        _, graph = planner.plan(Suite.from_file(path), registry(), "hf")
        for node, spec in graph.stages.items():
            text = spec.model_dump_json()
            again = StageSpec.model_validate_json(text)
            assert again.id == node == spec.id, (path, spec.label)
            digests = {r: hashlib.sha256(i.encode()).hexdigest()[:20]
                       for r, i in spec.inputs.items()}
            rows[f"{path.stem}:{node}"] = [text, spec.key(digests), again.key(digests),
                                           again.model_dump_json()]
    out.write_text(json.dumps(rows, indent=0, sort_keys=True))
    return len(rows)


if __name__ == "__main__":
    print(f"{dump(Path(sys.argv[1]))} stages")
