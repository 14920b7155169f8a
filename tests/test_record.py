"""The run record (``harness.record``): one file read by everything that shows a run, and the
migration that keeps runs and entries of the layout before it readable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT, harness_cli
from harness import leaderboard, record
from harness.gc import droppable
from harness.graph import Graph
from harness.history import runs_table, show
from harness.store import Store
from test_leaderboard import _fake_run

RUN = "20261123T000000_quick_abc123"


def _both(tmp_path: Path) -> tuple[Path, Path]:
    """The same run written in the current layout and in version 0's."""
    return (_fake_run(tmp_path / "new", "quick", RUN),
            _fake_run(tmp_path / "old", "quick", RUN, legacy=True))


def test_a_run_of_the_layout_before_reads_as_a_current_one(tmp_path):
    new, old = _both(tmp_path)
    assert (new / record.FILE).is_file() and not (old / record.FILE).exists()
    assert record.load(old) == record.load(new)
    for view in (show, lambda store, _: runs_table(store)):
        assert view(Store(tmp_path / "old"), RUN) == view(Store(tmp_path / "new"), RUN)
    entries = [leaderboard.add(run, tmp_path / f"board-{run.parent.parent.name}")
               for run in (new, old)]
    a, b = (leaderboard.read_entry(p).model_copy(update={"added": ""}) for p in entries)
    assert a == b
    proc = harness_cli("show", str(old))
    assert proc.returncode == 0 and "## Results" in proc.stdout, proc.stderr[-2000:]


def test_gc_reads_each_runs_graph_from_its_record_or_graph_json(tmp_path, monkeypatch):
    """Which checkpoints gc may drop comes from each run's graph and finished stages; a run
    of either layout counts (every cache entry taken as complete)."""
    from harness.schemas import StageRecord

    monkeypatch.setattr(Store, "done", lambda self, stage, key: True)
    graph = Graph.model_validate({"stages": {
        "t": {"kind": "train", "label": "train", "params": {}, "inputs": {}},
        "d": {"kind": "decode", "label": "decode", "params": {}, "inputs": {"model": "t"}}}})
    stages = [StageRecord(stage=s.kind, key=f"key-{n}", label=s.label, cached=False,
                          seconds=1, node=n) for n, s in graph.stages.items()]
    found = []
    for run in _both(tmp_path):
        home = run.parent.parent
        done = record.load(run)
        done.manifest.stages = stages
        if (run / record.FILE).exists():
            record.save(run, done.model_copy(update={"graph": graph}))
        else:
            (run / "manifest.json").write_text(done.manifest.model_dump_json())
            (run / "graph.json").write_text(graph.model_dump_json())
        found.append(droppable(Store(home)))
    assert found[0] == found[1] == {"key-t"}


def test_an_entry_published_before_the_record_renders_the_same(tmp_path):
    """Version 0's entry carried ``schema_version``, ``id`` and ``suite`` beside its parts."""
    path = leaderboard.add(_fake_run(tmp_path, "quick", RUN), tmp_path / "board")
    current = json.loads(path.read_text())
    old = {"schema_version": 1, "id": RUN, "suite": "quick", "added": current["added"],
           "manifest": current["manifest"], "results": current["results"],
           "transfer": current["transfer"], "smoke": current["smoke"]}
    other = tmp_path / "old-board" / "entries" / "quick" / path.name
    other.parent.mkdir(parents=True)
    other.write_text(json.dumps(old))
    assert leaderboard.read_entry(other) == leaderboard.read_entry(path)
    assert leaderboard.build(tmp_path / "old-board") == leaderboard.build(tmp_path / "board")


def test_every_published_entry_is_in_the_current_layout():
    for path in sorted((ROOT / "leaderboard" / "entries").glob("*/*.json")):
        data = json.loads(path.read_text())
        assert data.get("version") == record.VERSION, f"{path}: re-add or migrate it"
        leaderboard.read_entry(path)


def test_a_record_from_a_newer_harness_is_one_error_line(tmp_path):
    run = _fake_run(tmp_path, "quick", RUN)
    data = json.loads((run / record.FILE).read_text())
    (run / record.FILE).write_text(json.dumps({**data, "version": record.VERSION + 1}))
    with pytest.raises(ValueError, match="upgrade w2s-harness"):
        record.load(run)
    proc = harness_cli("show", str(run))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("error: cannot read run") and "upgrade" in proc.stderr
