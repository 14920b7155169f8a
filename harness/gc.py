"""``harness cache gc``: give disk back without losing a result.

Results, predictions, selections and every entry's metadata are kept. What goes:
- temporaries left by writers that died;
- model checkpoints (a train entry's ``model/``) whose readers have all finished, in every
  run that planned them (from each run's record: its graph and stages). The entry stays, with
  its digest, so every stage built on it is still served; a new stage that needs the weights
  recomputes them first. A checkpoint no run's graph accounts for is kept.

Run it when no run is using the home: a running stage may be reading a checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness import outputs
from harness.record import load
from harness.store import Store


@dataclass
class Freed:
    checkpoints: list[str] = field(default_factory=list)
    """Train entries whose weights were (or, on a dry run, would be) dropped."""
    kept: int = 0
    """Checkpoints kept because a reader has not finished, or no run accounts for them."""
    bytes: int = 0
    temporaries: int = 0


def droppable(store: Store) -> set[str]:
    """Train keys whose readers all finished in every run that planned them."""
    verdict: dict[str, bool] = {}
    for run in sorted((store.root / "runs").glob("*/")):
        try:
            record = load(run)
        except (OSError, ValueError):
            continue  # not a run, or one that is being written
        if record.graph is None:
            continue  # stopped before its graph was sized: it planned nothing to keep
        graph, manifest = record.graph, record.manifest
        keys = {s.node: s.key for s in manifest.stages if s.error is None and s.key}
        for node, spec in graph.stages.items():
            if spec.kind != "train" or node not in keys:
                continue
            finished = all(r in keys and store.done(graph.stages[r].kind, keys[r])
                           for r in graph.readers(node))
            verdict[keys[node]] = verdict.get(keys[node], True) and finished
    return {k for k, ok in verdict.items() if ok}


def collect(store: Store, keep_models: bool = False, dry_run: bool = False) -> Freed:
    freed = Freed()
    cache = store.root / "cache"
    for tmp in sorted(cache.glob("*/.tmp-*")):
        kind, key = tmp.parent.name, tmp.name.split("-")[1]
        if not store.busy(kind, key):
            freed.temporaries += 1
            if not dry_run:
                with store.lock(kind, key):  # removes the temporaries of dead writers
                    pass
    if keep_models:
        return freed
    drop = droppable(store)
    for entry in sorted((cache / "train").glob("[!.]*")):
        key = entry.name
        if store.problem("train", key) is not None or store.evicted("train", key):
            continue
        if key not in drop:
            freed.kept += 1
            continue
        freed.checkpoints.append(key)
        freed.bytes += store.evict("train", key, outputs.model_dir(entry).name, dry_run)
    return freed
