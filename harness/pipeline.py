"""Turns a suite into stages and runs them.

Per seed and training mixture: weak model on ``labeled`` ground truth, evaluated; weak labels
on ``unlabeled``; ceiling (strong model on ``unlabeled`` ground truth), evaluated; then for each
method: select from the weak labels, train the strong model, evaluate. Each stage is a pure
function from a spec to files, cached under a hash of that spec (which holds its upstream
keys), so every method shares one weak model, one labelling and one ceiling, and a rerun
does only what is missing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from harness.bases import (
    Backend,
    Capability,
    DecodeConfig,
    Plugin,
    Row,
    SelectContext,
    Selector,
    Splits,
    TrainContext,
    Trainer,
    TrainExample,
    WeakItem,
)
from harness.models import CapabilityResult, MethodSpec, StageRecord, Suite, pgr
from harness.progress import say
from harness.registry import Registry
from harness.store import Store, content_key, read_jsonl, write_json, write_jsonl
from harness.tinymodels import check as check_model
from harness.tinymodels import model_identity, resolve

SPLIT_FILES = ("labeled", "unlabeled", "test")


@dataclass
class Stage:
    kind: str
    """Cache namespace: data, train, decode or select."""
    label: str
    spec: dict[str, Any]
    fn: Callable[[Path], None]
    key: str = ""

    def __post_init__(self) -> None:
        self.key = content_key(self.spec)


@dataclass
class Plan:
    by_key: dict[str, Stage] = field(default_factory=dict)
    """Stages in run order; one stage per key, however many methods or mixtures share it."""
    evals: dict[tuple[int, str, str, str], dict[str, Stage]] = field(default_factory=dict)
    """(seed, mixture, capability, method) -> the weak / ceiling / w2s evaluation stages."""

    @property
    def stages(self) -> list[Stage]:
        return list(self.by_key.values())

    def add(self, stage: Stage) -> Stage:
        return self.by_key.setdefault(stage.key, stage)


def _ref(plugin: Plugin) -> dict[str, Any]:
    """What of a plugin goes into a cache key: name, version and validated params."""
    return {"name": plugin.name, "version": plugin.version, "params": plugin.params.model_dump()}


class Pipeline:
    def __init__(self, suite: Suite, registry: Registry, store: Store, backend: str) -> None:
        self.suite = suite
        self.registry = registry
        self.store = store
        self.backend_name = backend
        self._backend: Backend | None = None
        self.capabilities: dict[str, Capability] = {}
        self.sources: dict[str, str | None] = {}
        for spec in suite.capabilities:
            params = dict(spec.params)
            cap = registry.make("capabilities", spec.name, params)
            if suite.limit:
                sizes = {k: min(getattr(cap.params, k), suite.limit) for k in SPLIT_FILES}
                cap = registry.make("capabilities", spec.name, {**params, **sizes})
            self.capabilities[spec.name] = cap
            self.sources[spec.name] = spec.source or cap.default_source
            cap.check_source(self.sources[spec.name])
        self.trainer = registry.make("trainers", suite.train.name, suite.train.params)
        weak_ref = suite.over_train(suite.weak_train)
        self.weak_trainer = registry.make("trainers", weak_ref.name, weak_ref.params)
        self.method_plugins: dict[str, tuple[Selector, Trainer]] = {}
        for m in suite.methods:
            tref = suite.method_trainer(m)
            self.method_plugins[m.name] = (
                registry.make("selectors", m.selector.name, m.selector.params),
                registry.make("trainers", tref.name, tref.params),
            )
        registry.get("backends", backend)
        check_model(suite.weak)
        check_model(suite.strong)

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = self.registry.make("backends", self.backend_name)  # type: ignore[assignment]
        return self._backend

    # ------------------------------------------------------------------ planning

    def plan(self) -> Plan:
        plan = Plan()
        suite = self.suite
        for seed in suite.seeds:
            data = {name: plan.add(self._data_stage(name, seed)) for name in self.capabilities}
            for mixture in suite.mixtures:
                groups = (
                    [list(self.capabilities)]
                    if mixture == "joint"
                    else [[name] for name in self.capabilities]
                )
                for group in groups:
                    self._plan_group(plan, seed, mixture, group, data)
        return plan

    def _plan_group(self, plan: Plan, seed: int, mixture: str, group: list[str], data) -> None:
        suite = self.suite
        tag = f"{'+'.join(group)} seed {seed}"
        tref, wref = _ref(self.trainer), _ref(self.weak_trainer)
        weak = plan.add(
            self._train_stage(f"train weak [{tag}]", suite.weak, wref, self.weak_trainer, seed,
                              {"gold": [data[c].key for c in group], "split": "labeled"},
                              lambda: self._gold(data, group, "labeled"))
        )
        weak_eval = plan.add(self._decode_stage("eval weak", weak, data, group, "test", seed))
        labels = plan.add(self._decode_stage("label", weak, data, group, "unlabeled", seed))
        ceiling = plan.add(
            self._train_stage(f"train ceiling [{tag}]", suite.strong, tref, self.trainer, seed,
                              {"gold": [data[c].key for c in group], "split": "unlabeled"},
                              lambda: self._gold(data, group, "unlabeled"))
        )
        ceil_eval = plan.add(self._decode_stage("eval ceiling", ceiling, data, group, "test", seed))
        for method in suite.methods:
            selector, trainer = self.method_plugins[method.name]
            select = plan.add(self._select_stage(method, selector, labels, seed, tag))
            mref = _ref(trainer)
            w2s = plan.add(
                self._train_stage(f"train {method.name} [{tag}]", suite.strong, mref, trainer,
                                  seed, {"selected": select.key},
                                  lambda s=select: _read_selected(self._out(s)))
            )
            w2s_eval = plan.add(
                self._decode_stage(f"eval {method.name}", w2s, data, group, "test", seed)
            )
            for cap in group:
                plan.evals[(seed, mixture, cap, method.name)] = {
                    "weak": weak_eval, "ceiling": ceil_eval, "w2s": w2s_eval
                }

    def _out(self, stage: Stage) -> Path:
        return self.store.path(stage.kind, stage.key)

    def _data_stage(self, name: str, seed: int) -> Stage:
        cap = self.capabilities[name]
        spec = {
            "stage": "data",
            "capability": _ref(cap),
            "source": self.sources[name],
            "seed": seed,
        }

        def run(out: Path) -> None:
            splits: Splits = cap.load(seed, self.sources[name])
            for split, rows in splits.names().items():
                write_jsonl(out / f"{split}.jsonl", [r.model_dump() for r in rows])

        return Stage("data", f"data {name} seed {seed}", spec, run)

    def _rows(self, data: dict[str, Stage], cap: str, split: str) -> list[Row]:
        return [Row.model_validate(r) for r in read_jsonl(self._out(data[cap]) / f"{split}.jsonl")]

    def _gold(self, data, group: list[str], split: str) -> list[TrainExample]:
        return [
            TrainExample(prompt=r.prompt, target=r.target)
            for cap in group
            for r in self._rows(data, cap, split)
        ]

    def _train_stage(self, label, base, tref, trainer: Trainer, seed, inputs, examples) -> Stage:
        spec = {"stage": "train", "base": model_identity(base), "trainer": tref,
                "inputs": inputs, "seed": seed}

        def run(out: Path) -> None:
            (out / "work").mkdir()
            trainer.train(resolve(base), examples(), out / "model",
                          TrainContext(seed=seed, work_dir=out / "work", progress_label=label))

        return Stage("train", label, spec, run)

    def _decode_stage(self, what, model: Stage, data, group, split, seed) -> Stage:
        decodes = {c: self._decode_config(c) for c in group}
        spec = {
            "stage": "decode",
            "model": model.key,
            "data": [data[c].key for c in group],
            "split": split,
            "decode": {c: d.model_dump() for c, d in decodes.items()},
            "backend": self.backend_name,
        }

        def run(out: Path) -> None:
            records, scores, metrics, counts = [], {}, {}, {}
            for cap_name in group:
                cap = self.capabilities[cap_name]
                rows = self._rows(data, cap_name, split)
                gens = self.backend.generate(
                    str(self._out(model) / "model"), [r.prompt for r in rows], decodes[cap_name]
                )
                values = [cap.score(row, gen.text) for row, gen in zip(rows, gens)]
                for row, gen, value in zip(rows, gens, values):
                    records.append({
                        "id": row.id, "capability": cap_name, "prompt": row.prompt,
                        "answer": row.answer, "completion": gen.text, "score": value,
                    })
                scores[cap_name] = sum(values) / max(1, len(values))
                metrics[cap_name] = cap.metrics(rows, values)
                counts[cap_name] = len(values)
            write_jsonl(out / "predictions.jsonl", records)
            write_json(out / "scores.json", {"accuracy": scores, "metrics": metrics, "n": counts})

        return Stage("decode", f"{what} [{'+'.join(group)} seed {seed}] ({split})", spec, run)

    def _decode_config(self, cap: str) -> DecodeConfig:
        base = type(self.capabilities[cap]).decode
        return DecodeConfig.model_validate({**base.model_dump(), **self.suite.decode})

    def _select_stage(self, method: MethodSpec, selector: Selector, labels: Stage, seed, tag):
        spec = {"stage": "select",
                "selector": _ref(selector),
                "labels": labels.key, "strong": model_identity(self.suite.strong), "seed": seed}

        def run(out: Path) -> None:
            pool = [
                WeakItem(id=p["id"], capability=p["capability"], prompt=p["prompt"],
                         label=p["completion"])
                for p in read_jsonl(self._out(labels) / "predictions.jsonl")
            ]
            ctx = SelectContext(seed=seed, strong_model=resolve(self.suite.strong),
                                weak_model=self.suite.weak, backend=self.backend, work_dir=out)
            chosen = selector.select(pool, ctx)
            write_jsonl(out / "selected.jsonl", [i.model_dump() for i in chosen])

        return Stage("select", f"select {method.name} [{tag}]", spec, run)

    # ------------------------------------------------------------------ running

    def execute(self, plan: Plan, force: set[str], on_stage: Callable[[StageRecord], None]) -> None:
        total = len(plan.stages)
        for i, stage in enumerate(plan.stages, 1):
            forced = stage.kind in force or stage.label.split(" [")[0] in force
            cached = self.store.done(stage.kind, stage.key) and not forced
            t0 = time.monotonic()
            if cached:
                say(f"[{i}/{total}] {stage.label}: cached")
            else:
                say(f"[{i}/{total}] {stage.label} ...")
                with self.store.writing(stage.kind, stage.key, stage.spec) as tmp:
                    stage.fn(tmp)
            seconds = round(time.monotonic() - t0, 2)
            if not cached:
                say(f"[{i}/{total}] {stage.label}: done in {seconds:.1f}s")
            on_stage(StageRecord(stage=stage.kind, key=stage.key, label=stage.label,
                                 cached=cached, seconds=seconds))

    def results(self, plan: Plan, run_id: str) -> list[CapabilityResult]:
        out = []
        for (seed, mixture, cap, method), stages in plan.evals.items():
            read = {role: json.loads((self._out(stage) / "scores.json").read_text())
                    for role, stage in stages.items()}
            scores = {role: r["accuracy"][cap] for role, r in read.items()}
            metrics = {f"{role}_{k}": v for role, r in read.items()
                       for k, v in r["metrics"].get(cap, {}).items()}
            value, note = pgr(scores["weak"], scores["w2s"], scores["ceiling"])
            n_test = read["w2s"]["n"][cap]
            out.append(CapabilityResult(
                run_id=run_id, suite=self.suite.name, seed=seed, mixture=mixture, method=method,
                capability=cap, weak=scores["weak"], ceiling=scores["ceiling"],
                w2s=scores["w2s"], pgr=value, pgr_note=note, n_test=n_test, metrics=metrics,
            ))
        return out


def _read_selected(path: Path) -> list[TrainExample]:
    return [
        TrainExample(prompt=item["prompt"], target=item["label"])
        for item in read_jsonl(path / "selected.jsonl")
    ]
