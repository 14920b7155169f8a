"""A run's record: one typed, versioned file, ``record.json``, holding what ran (the manifest and
the graph as run) and what came out (every result row). The run rewrites it at each stage's
outcome and when it ends; `harness show` (and its page), `harness runs`, gc, the power
planner and the leaderboard read it through ``load`` and nothing else, as inspect_ai's viewers
read its one eval log.

Version 0 is the layout before it (``manifest.json``, ``graph.json``, ``results.jsonl``,
``transfer.jsonl``, a derived ``summary.json``, and entries with their own ``id``/``suite``
fields); ``load`` and ``migrate`` read it, so old runs and entries keep working.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from harness import outputs
from harness.graph import Graph
from harness.schemas import CapabilityResult, Manifest, TransferResult
from harness.store import Store, read_jsonl, write_json

VERSION = 1
FILE = "record.json"


class RunRecord(BaseModel):
    """One run, whole. ``results`` and ``transfer`` stay empty until it finishes; ``graph`` is
    None until its data were checked (and in entries published before version 1)."""

    version: int = VERSION
    manifest: Manifest
    graph: Graph | None = None
    results: list[CapabilityResult] = []
    transfer: list[TransferResult] = []


def curves(run: RunRecord, store: Store) -> dict[str, list[dict[str, float]]]:
    """Each training stage's logged curve (``outputs.history``: step, epoch, loss, learning
    rate), by its label, from its entry in ``store``: the same for a run that trained it and
    one served from the cache. A stage whose trainer logged none, or whose entry is not in
    this store, has none."""
    keys = {s.node: s.key for s in run.manifest.stages if s.error is None}
    out = {}
    for node, spec in (run.graph.stages.items() if run.graph else []):
        if spec.kind == "train" and node in keys:
            rows = outputs.history(store.path("train", keys[node]))
            if rows:
                out[spec.label] = rows
    return out


def is_run(path: Path) -> bool:
    """Whether ``path`` is a run's directory, of this layout or the one before."""
    return (path / FILE).is_file() or (path / "manifest.json").is_file()


def load(run_dir: Path) -> RunRecord:
    """The record of the run in ``run_dir``, migrated from version 0 where it is that old.
    Raises OSError or ValueError (pydantic's ValidationError is one) for an unreadable one."""
    path = run_dir / FILE
    if path.is_file():
        return RunRecord.model_validate(migrate(json.loads(path.read_text())))
    data: dict[str, Any] = {"manifest": json.loads((run_dir / "manifest.json").read_text())}
    if (run_dir / "graph.json").is_file():
        data["graph"] = json.loads((run_dir / "graph.json").read_text())
    for part in ("results", "transfer"):
        if (run_dir / f"{part}.jsonl").is_file():
            data[part] = read_jsonl(run_dir / f"{part}.jsonl")
    return RunRecord.model_validate(data)


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """A record's (or a published entry's) JSON in the current layout. Version 0 entries
    carried ``schema_version``, ``id`` and ``suite`` beside the manifest, which holds both."""
    if "version" not in data:
        data = {k: v for k, v in data.items() if k not in ("schema_version", "id", "suite")}
        data["version"] = VERSION
    if data["version"] > VERSION:
        raise ValueError(f"record version {data['version']} is newer than this harness's "
                         f"{VERSION}; upgrade w2s-harness to read it")
    return data


def save(run_dir: Path, record: RunRecord) -> None:
    """Write the record atomically: a reader never sees half of it."""
    write_json(run_dir / FILE, record.model_dump(mode="json"))
