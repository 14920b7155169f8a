"""What each stage kind leaves in its cache entry, written and read in one place.

Runners write through these functions and the collector and downstream runners read through
them, so no file name is spelled anywhere else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from harness.bases import Features, Row, Splits, TrainExample, WeakItem
from harness.store import read_jsonl, write_json, write_jsonl


class Completion(BaseModel):
    """One decoded row, as the model wrote it: no gold answer, no score."""

    id: str
    capability: str
    prompt: str
    completion: str


class Prediction(BaseModel):
    """One graded row: the completion, the answer its capability reads in it, and its score
    against the gold answer."""

    id: str
    capability: str
    prompt: str
    answer: str
    completion: str
    extracted: str | None
    """``Capability.answer_of(row, completion)``: what agreement measures compare, recorded
    by the grade stage so nothing after the run calls plugin code."""
    score: float


class Scores(BaseModel):
    """A grade stage's per-capability accuracy, extra metrics and row counts."""

    accuracy: dict[str, float]
    metrics: dict[str, dict[str, float]]
    n: dict[str, int]


# data ------------------------------------------------------------------------------------

def write_rows(entry: Path, split: str, rows: list[Row]) -> None:
    write_jsonl(entry / f"{split}.jsonl", [r.model_dump() for r in rows])


def rows(entry: Path, split: str) -> list[Row]:
    return [Row.model_validate(r) for r in read_jsonl(entry / f"{split}.jsonl")]


class SplitAccount(BaseModel):
    """What a data stage was asked for and what it made: preflight refuses a short or empty
    split from it, and the run's manifest and report carry its dropped rows."""

    requested: dict[str, int]
    rows: dict[str, int]
    available: dict[str, int] | None = None
    duplicates: int = 0
    overlap: int = 0

    @classmethod
    def of(cls, splits: Splits, params: Any) -> SplitAccount:
        """``splits`` as made for a capability with ``params`` (its split sizes)."""
        return cls(requested={s: getattr(params, s) for s in splits.names()},
                   rows={s: len(rows) for s, rows in splits.names().items()},
                   available=splits.available, duplicates=splits.duplicates,
                   overlap=splits.overlap)

    def problem(self, capability: str) -> str | None:
        """An empty split, or one shorter than asked for, as a sentence with the fix."""
        for split, want in self.requested.items():
            got = self.rows.get(split, 0)
            can = (self.available or {}).get(split, got)
            if got == 0:
                return (f"capability {capability}: its {split} split has no rows (its pool "
                        f"gives {can}); check its source and the split sizes")
            if got < want:
                return (f"capability {capability}: {split} asks for {want} rows, its pool "
                        f"gives {can} after the splits drawn before it (test, then labeled, "
                        f"then unlabeled); set `{split}: {can}` or less in the suite's params "
                        f"for {capability}, or give it more data")
        return None


def write_account(entry: Path, account: SplitAccount) -> None:
    write_json(entry / "splits.json", account.model_dump())


def account(entry: Path) -> SplitAccount | None:
    """The data stage's account; None for an entry written before it was kept."""
    path = entry / "splits.json"
    return SplitAccount.model_validate_json(path.read_text()) if path.is_file() else None


# train -----------------------------------------------------------------------------------

def model_dir(entry: Path) -> Path:
    """Where a train stage saves its model (safetensors and tokenizer)."""
    return entry / "model"


# decode ----------------------------------------------------------------------------------

def history_file(entry: Path) -> Path:
    """A train entry's training curve (``TrainContext.history``); kept when gc drops the
    weights."""
    return entry / "history.jsonl"


def history(entry: Path) -> list[dict[str, float]]:
    """The curve a trainer logged, ``[]`` where it logged none."""
    path = history_file(entry)
    return read_jsonl(path) if path.is_file() else []


def write_completions(entry: Path, completions: list[Completion]) -> None:
    write_jsonl(entry / "completions.jsonl", [c.model_dump() for c in completions])


def completions(entry: Path) -> list[Completion]:
    return [Completion.model_validate(c) for c in read_jsonl(entry / "completions.jsonl")]


def completions_as_examples(entry: Path) -> list[TrainExample]:
    """A decode stage's completions as training pairs (self-bootstrapping's relabelling)."""
    return [TrainExample(prompt=c.prompt, target=c.completion) for c in completions(entry)]


# grade -----------------------------------------------------------------------------------

def write_graded(entry: Path, predictions: list[Prediction], scores: Scores) -> None:
    write_jsonl(entry / "predictions.jsonl", [p.model_dump() for p in predictions])
    write_json(entry / "scores.json", scores.model_dump())


def predictions_file(entry: Path) -> Path:
    return entry / "predictions.jsonl"


def predictions(entry: Path) -> list[Prediction]:
    return [Prediction.model_validate(p) for p in read_jsonl(predictions_file(entry))]


def scores(entry: Path) -> Scores:
    return Scores.model_validate_json((entry / "scores.json").read_text())


# score -----------------------------------------------------------------------------------

def write_signal(entry: Path, values: dict[str, float]) -> None:
    write_jsonl(entry / "signal.jsonl", [{"id": k, "value": v} for k, v in values.items()])


def signal(entry: Path) -> dict[str, float]:
    return {r["id"]: r["value"] for r in read_jsonl(entry / "signal.jsonl")}


# features --------------------------------------------------------------------------------

def write_features(entry: Path, found: Features) -> None:
    """One ``.npy`` a layer (``numpy.save``'s raw format: the same array gives the same bytes,
    so the entry's digest follows the values) and the ids they are rows of."""
    import numpy as np

    write_json(entry / "features.json", {"ids": found.ids, "layers": sorted(found.layers)})
    for layer, values in found.layers.items():
        np.save(entry / f"layer-{layer}.npy", np.ascontiguousarray(values, dtype=np.float32))


def features(entry: Path) -> Features:
    import numpy as np

    index = json.loads((entry / "features.json").read_text())
    return Features(ids=index["ids"], layers={layer: np.load(entry / f"layer-{layer}.npy")
                                              for layer in index["layers"]})


def write_choices(entry: Path, choices: dict[str, Any]) -> None:
    """What a head student chose on its weak labels (layer, regularisation): its record."""
    write_json(entry / "choices.json", choices)


def choices(entry: Path) -> dict[str, Any] | None:
    path = entry / "choices.json"
    return json.loads(path.read_text()) if path.is_file() else None


# select ----------------------------------------------------------------------------------

def write_selection(entry: Path, chosen: list[WeakItem], summary: dict[str, dict]) -> None:
    write_jsonl(entry / "selected.jsonl", [i.model_dump() for i in chosen])
    write_json(entry / "summary.json", summary)


def selected(entry: Path) -> list[WeakItem]:
    return [WeakItem.model_validate(i) for i in read_jsonl(entry / "selected.jsonl")]


def selected_as_examples(entry: Path) -> list[TrainExample]:
    return [TrainExample(prompt=i.prompt, target=i.label) for i in selected(entry)]


def shuffled_as_examples(entry: Path, seed: int) -> list[TrainExample]:
    """The selection's labels permuted across its items within each capability (seeded):
    every answer and format kept, the pairing with the prompts gone (the format-only
    control)."""
    import random

    items = selected(entry)
    rng = random.Random(f"format-control:{seed}")
    labels: dict[str, list[str]] = {}
    for i in items:
        labels.setdefault(i.capability, []).append(i.label)
    for pool in labels.values():
        rng.shuffle(pool)
    taken = {cap: iter(pool) for cap, pool in labels.items()}
    return [TrainExample(prompt=i.prompt, target=next(taken[i.capability])) for i in items]


def selection_summary(entry: Path) -> dict[str, dict[str, Any]]:
    return json.loads((entry / "summary.json").read_text())


def rewards(entry: Path) -> dict[str, float]:
    """Each pool item's reward (``rewards.jsonl``, from the reward-model selector), or none."""
    path = entry / "rewards.jsonl"
    return {r["id"]: r["reward"] for r in read_jsonl(path)} if path.exists() else {}


def reward_report(entry: Path) -> dict[str, Any] | None:
    """``reward_model.json``, which the reward-model selector writes into its work directory."""
    path = entry / "reward_model.json"
    return json.loads(path.read_text()) if path.exists() else None
