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
from functools import partial
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
    Signal,
    Splits,
    Step,
    TrainContext,
    Trainer,
    TrainExample,
    WeakItem,
)
from harness.analysis import agreement, compression_ratio, distinct_n
from harness.errors import HarnessError, PluginError
from harness.models import CapabilityResult, PluginRef, StageRecord, Suite, TransferResult
from harness.stats import pgr
from harness.progress import say
from harness.registry import Registry
from harness.store import Store, content_key, read_jsonl, write_json, write_jsonl
from harness.tinymodels import check as check_model
from harness.tinymodels import model_identity, resolve
from harness import trust

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
    """(seed, mixture, capability, method) -> the weak / ceiling / w2s evaluation stages, and
    the labelling and selection behind them (for the analyses)."""
    transfer: dict[tuple[int, str, str, str], Stage] = field(default_factory=dict)
    """(seed, method, trained on, evaluated on) -> evaluation of a single-capability model."""

    @property
    def stages(self) -> list[Stage]:
        return list(self.by_key.values())

    def add(self, stage: Stage) -> Stage:
        return self.by_key.setdefault(stage.key, stage)


@dataclass
class Group:
    """The capabilities one model is trained on, for one seed and mixture, and its shared stages."""

    seed: int
    mixture: str
    group: list[str]
    data: dict[str, Stage]
    tag: str
    weak: Stage = field(init=False)
    labels: Stage = field(init=False)
    pool: Stage = field(init=False)
    """Selection of every weak label: the naive W2S data, and step ``pool`` of any method."""


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
        self._trusting: set[str] = set()
        """Keys of train stages whose model descends from one the suite trusts."""
        trust.reset()
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
        self.method_plugins: dict[str, tuple[Selector, list[tuple[Step, Trainer]]]] = {}
        """Each method's selector, and its training steps with the trainer of each."""
        for m in suite.methods:
            tref = suite.method_trainer(m)
            trainer: Trainer = registry.make("trainers", tref.name, tref.params)  # type: ignore
            self.method_plugins[m.name] = (
                registry.make("selectors", m.selector.name, m.selector.params),  # type: ignore
                self._steps(m.name, trainer),
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
        g = Group(seed, mixture, group, data, tag)
        gold = lambda split: {"gold": [data[c].key for c in group], "split": split}  # noqa: E731
        g.weak = plan.add(self._train_stage(
            f"train weak [{tag}]", suite.weak, self.weak_trainer, seed, gold("labeled"),
            lambda: self._gold(data, group, "labeled")))
        weak_eval = plan.add(self._decode_stage("eval weak", g.weak, g, "test"))
        g.labels = plan.add(self._decode_stage("label", g.weak, g, "unlabeled"))
        ceiling = plan.add(self._train_stage(
            f"train ceiling [{tag}]", suite.strong, self.trainer, seed, gold("unlabeled"),
            lambda: self._gold(data, group, "unlabeled")))
        ceil_eval = plan.add(self._decode_stage("eval ceiling", ceiling, g, "test"))
        g.pool = plan.add(self._select_stage("all", self.registry.make("selectors", "all"), g, {}))
        for method in suite.methods:
            selector, steps = self.method_plugins[method.name]
            signals = {s: self._signal_stage(plan, s, g) for s in sorted(selector.needs())}
            select = plan.add(self._select_stage(method.name, selector, g, signals))
            model = self._plan_steps(plan, method.name, steps, select, g)
            w2s_eval = plan.add(self._decode_stage(f"eval {method.name}", model, g, "test"))
            for cap in group:
                plan.evals[(seed, mixture, cap, method.name)] = {
                    "weak": weak_eval, "ceiling": ceil_eval, "w2s": w2s_eval,
                    "labels": g.labels, "select": select, "data": data[cap],
                }
            if mixture == "single" and suite.transfer:
                for other in self.capabilities:
                    stage = self._decode_stage(f"transfer {method.name} from {group[0]}", model,
                                               Group(seed, mixture, [other], data, tag), "test")
                    plan.transfer[(seed, method.name, group[0], other)] = plan.add(stage)

    def _plan_steps(self, plan: Plan, method: str, steps: list[tuple[Step, Trainer]],
                    select: Stage, g: Group) -> Stage:
        """Chain the method's training runs, each a cached stage of its own."""
        model: Stage | None = None
        for i, (step, inner) in enumerate(steps, 1):
            if step.data == "self":
                assert model is not None  # _steps refuses a first step on 'self'
                source = plan.add(self._decode_stage(f"relabel {method} {i}", model, g,
                                                     "unlabeled", step.temperature))
                inputs, examples = {"self": source.key}, partial(_read_completions, self, source)
            else:
                source = select if step.data == "selected" else g.pool
                inputs, examples = {"selected": source.key}, partial(_read_selected, self, source)
            base = self.suite.strong if model is None or step.restart else model
            what = method if len(steps) == 1 else f"{method} step {i}/{len(steps)}"
            model = plan.add(self._train_stage(f"train {what} [{g.tag}]", base, inner, g.seed,
                                               inputs, examples))
        assert model is not None  # _steps refuses a trainer without steps
        return model

    def _steps(self, method: str, trainer: Trainer) -> list[tuple[Step, Trainer]]:
        """A method's steps, each with its trainer (params layered over the suite's ``train``
        like a method's), checked before any compute."""
        steps = trainer.steps()
        if not steps:
            raise PluginError(f"trainer {trainer.name} declares no steps; return at least one")
        if steps[0].data == "self":
            raise PluginError(f"trainer {trainer.name}: its first step cannot train on the "
                              "model's own answers ('self'); start from the weak labels")
        out = []
        for step in steps:
            inner = trainer
            if step.trainer is not None:
                ref = self.suite.over_train(PluginRef(name=step.trainer, params=step.params or {}))
                inner = self.registry.make("trainers", ref.name, ref.params)  # type: ignore
            if type(inner).steps is not Trainer.steps:
                raise PluginError(f"method {method}: trainer {trainer.name} steps through "
                                  f"{inner.name}, which has steps of its own; name a "
                                  "single-run trainer such as sft")
            out.append((step, inner))
        return out

    def _signal_stage(self, plan: Plan, signal: Signal, g: Group) -> Stage:
        """The stage whose output answers a selector's need, planned (and cached) once."""
        if signal == "weak_logprob":
            return plan.add(self._logprob_stage(g))
        if signal == "base_answer":
            return plan.add(self._decode_stage("answer strong base", self.suite.strong, g,
                                               "unlabeled"))
        # The student is the strong model trained on every weak label: the naive W2S model.
        student = plan.add(self._train_stage(
            f"train student [{g.tag}]", self.suite.strong, self.trainer, g.seed,
            {"selected": g.pool.key}, partial(_read_selected, self, g.pool)))
        return plan.add(self._decode_stage("answer student", student, g, "unlabeled"))

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
        """The rows of one split, from the stage ``data[cap]`` wrote."""
        return [Row.model_validate(r) for r in read_jsonl(self._out(data[cap]) / f"{split}.jsonl")]

    def _gold(self, data, group: list[str], split: str) -> list[TrainExample]:
        return [
            TrainExample(prompt=r.prompt, target=r.target)
            for cap in group
            for r in self._rows(data, cap, split)
        ]

    def _model(self, model: Stage | str) -> tuple[Any, Callable[[], str]]:
        """A model's identity for cache keys, and how to find its weights once it exists."""
        identity = {"stage": model.key} if isinstance(model, Stage) else model_identity(model)
        return identity, lambda: self._path(model)

    def _path(self, model: Stage | str) -> str:
        """A model's weights; a model trained from one the suite trusts is trusted as well."""
        path = str(self._out(model) / "model") if isinstance(model, Stage) else resolve(model)
        if self._trusts(model):
            trust.allow(path)
        return path

    def _trusts(self, model: Stage | str) -> bool:
        if isinstance(model, Stage):
            return model.key in self._trusting
        return model in self.suite.trust_remote_code

    def _train_stage(self, label, base: Stage | str, trainer: Trainer, seed, inputs,
                     examples) -> Stage:
        identity, path = self._model(base)
        spec = {"stage": "train", "base": identity, "trainer": _ref(trainer),
                "inputs": inputs, "seed": seed}
        if self._trusts(base):
            self._trusting.add(content_key(spec))

        def run(out: Path) -> None:
            (out / "work").mkdir()
            trainer.train(path(), examples(), out / "model",
                          TrainContext(seed=seed, work_dir=out / "work", progress_label=label))

        return Stage("train", label, spec, run)

    def _decode_stage(self, what, model: Stage | str, g: Group, split: str,
                      temperature: float = 0.0) -> Stage:
        decodes = {c: self._decode_config(c, temperature, g.seed) for c in g.group}
        identity, path = self._model(model)
        spec = {
            "stage": "decode",
            "model": model.key if isinstance(model, Stage) else identity,
            "data": [g.data[c].key for c in g.group],
            "split": split,
            "decode": {c: d.model_dump(exclude_defaults=True) for c, d in decodes.items()},
            "backend": self.backend_name,
        }

        def run(out: Path) -> None:
            records, scores, metrics, counts = [], {}, {}, {}
            for cap_name in g.group:
                cap = self.capabilities[cap_name]
                rows = self._rows(g.data, cap_name, split)
                gens = self.backend.generate(path(), [r.prompt for r in rows], decodes[cap_name])
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

        return Stage("decode", f"{what} [{'+'.join(g.group)} seed {g.seed}] ({split})", spec, run)

    def _logprob_stage(self, g: Group) -> Stage:
        spec = {"stage": "score", "model": g.weak.key, "labels": g.labels.key,
                "backend": self.backend_name}

        def run(out: Path) -> None:
            preds = read_jsonl(self._out(g.labels) / "predictions.jsonl")
            values = self.backend.logprobs(self._path(g.weak), [p["prompt"] for p in preds],
                                           [p["completion"] for p in preds])
            write_jsonl(out / "signal.jsonl",
                        [{"id": p["id"], "value": v} for p, v in zip(preds, values)])

        return Stage("score", f"score weak labels [{g.tag}]", spec, run)

    def _decode_config(self, cap: str, temperature: float = 0.0, seed: int = 0) -> DecodeConfig:
        base = type(self.capabilities[cap]).decode
        sampled = {"temperature": temperature, "seed": seed} if temperature else {}
        return DecodeConfig.model_validate({**base.model_dump(), **self.suite.decode, **sampled})

    def _select_stage(self, method: str, selector: Selector, g: Group,
                      signals: dict[str, Stage]) -> Stage:
        spec = {"stage": "select", "selector": _ref(selector), "labels": g.labels.key,
                "strong": model_identity(self.suite.strong), "seed": g.seed}
        if signals:
            spec["signals"] = {name: stage.key for name, stage in signals.items()}

        def run(out: Path) -> None:
            pool = self._pool(g, signals)
            ctx = SelectContext(seed=g.seed, strong_model=self._path(self.suite.strong),
                                weak_model=self.suite.weak, backend=self.backend, work_dir=out)
            chosen = selector.select(pool, ctx)
            if not chosen:
                raise HarnessError(f"selector {selector.name} kept none of the {len(pool)} weak "
                                   f"labels [{g.tag}]; loosen its rule in the suite")
            write_jsonl(out / "selected.jsonl", [i.model_dump() for i in chosen])
            write_json(out / "summary.json", _selection_summary(pool, chosen))

        return Stage("select", f"select {method} [{g.tag}]", spec, run)

    def _pool(self, g: Group, signals: dict[str, Stage]) -> list[WeakItem]:
        """The weak labels, with the signals a selector asked for; never the gold answers."""
        extra: dict[str, dict[str, Any]] = {}
        for name, stage in signals.items():
            if name == "weak_logprob":
                extra["weak_logprob"] = {r["id"]: r["value"]
                                         for r in read_jsonl(self._out(stage) / "signal.jsonl")}
            else:
                extra["strong_answer"] = {
                    r["id"]: r["completion"]
                    for r in read_jsonl(self._out(stage) / "predictions.jsonl")}
        rows = {r.id: r for c in g.group for r in self._rows(g.data, c, "unlabeled")}
        pool = []
        for p in read_jsonl(self._out(g.labels) / "predictions.jsonl"):
            item = WeakItem(id=p["id"], capability=p["capability"], prompt=p["prompt"],
                            label=p["completion"],
                            **{k: v[p["id"]] for k, v in extra.items()})
            if item.strong_answer is not None:
                cap, row = self.capabilities[item.capability], rows[item.id]
                mine = cap.answer_of(row, item.label)
                item.agree = mine is not None and mine == cap.answer_of(row, item.strong_answer)
            pool.append(item)
        return pool

    # ------------------------------------------------------------------ running

    def execute(self, plan: Plan, force: set[str], on_stage: Callable[[StageRecord], None]) -> None:
        total = len(plan.stages)
        for i, stage in enumerate(plan.stages, 1):
            forced = stage.kind in force or stage.label.split(" [")[0] in force
            t0 = time.monotonic()
            if self.store.busy(stage.kind, stage.key):
                say(f"[{i}/{total}] {stage.label}: another run is computing it; waiting")
            with self.store.lock(stage.kind, stage.key):
                problem = self.store.problem(stage.kind, stage.key)
                if problem not in (None, "missing"):
                    say(f"warning: cache entry {stage.kind}/{stage.key} ({stage.label}) is "
                        f"damaged ({problem}); recomputing it")
                cached = problem is None and not forced
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
            read = {role: json.loads((self._out(stages[role]) / "scores.json").read_text())
                    for role in ("weak", "ceiling", "w2s")}
            scores = {role: r["accuracy"][cap] for role, r in read.items()}
            metrics = {f"{role}_{k}": v for role, r in read.items()
                       for k, v in r["metrics"].get(cap, {}).items()}
            value, note = pgr(scores["weak"], scores["w2s"], scores["ceiling"], self.suite.min_gap)
            out.append(CapabilityResult(
                run_id=run_id, suite=self.suite.name, seed=seed, mixture=mixture, method=method,
                capability=cap, weak=scores["weak"], ceiling=scores["ceiling"],
                w2s=scores["w2s"], pgr=value, pgr_note=note, n_test=read["w2s"]["n"][cap],
                metrics=metrics, analysis=self._analysis(cap, stages),
            ))
        return out

    def _analysis(self, cap: str, stages: dict[str, Stage]) -> dict[str, float]:
        """The data and agreement measures of one result (see ``CapabilityResult.analysis``)."""
        labels = json.loads((self._out(stages["labels"]) / "scores.json").read_text())
        correct = {p["id"]: p["score"]
                   for p in read_jsonl(self._out(stages["labels"]) / "predictions.jsonl")}
        chosen = [i for i in read_jsonl(self._out(stages["select"]) / "selected.jsonl")
                  if i["capability"] == cap]
        texts = [i["prompt"] + i["label"] for i in chosen]
        out = {
            "weak_label_acc": labels["accuracy"][cap],
            "train_n": float(len(chosen)),
            "train_label_acc": sum(correct[i["id"]] for i in chosen) / max(1, len(chosen)),
            "train_distinct_2": distinct_n(texts, 2),
            "train_compression": compression_ratio(texts),
        }
        summary = json.loads((self._out(stages["select"]) / "summary.json").read_text())
        if summary[cap].get("agreement") is not None:
            out["pool_agreement"] = summary[cap]["agreement"]
        reward = self._out(stages["select"]) / "reward_model.json"
        if reward.exists():
            held = json.loads(reward.read_text()).get("held_out_accuracy")
            if held is not None:
                out["rm_held_out_acc"] = held
        capability = self.capabilities[cap]
        rows = {r.id: r for r in self._rows(stages, "data", "test")}
        answers = {
            role: {p["id"]: capability.answer_of(rows[p["id"]], p["completion"])
                   for p in read_jsonl(self._out(stages[role]) / "predictions.jsonl")
                   if p["capability"] == cap}
            for role in ("weak", "w2s")
        }
        ids = sorted(answers["w2s"])
        out["supervisor_agreement"] = agreement([answers["w2s"][i] for i in ids],
                                                [answers["weak"].get(i) for i in ids])
        return out

    def transfer_results(self, plan: Plan, run_id: str) -> list[TransferResult]:
        out = []
        for (seed, method, trained, evaluated), stage in plan.transfer.items():
            scores = json.loads((self._out(stage) / "scores.json").read_text())
            out.append(TransferResult(run_id=run_id, seed=seed, method=method,
                                      trained_on=trained, evaluated_on=evaluated,
                                      accuracy=scores["accuracy"][evaluated]))
        return out


def _selection_summary(pool: list[WeakItem], chosen: list[WeakItem]) -> dict[str, dict]:
    """Per capability: pool size, how many were kept, and weak-strong agreement if known."""
    out: dict[str, dict] = {}
    kept = {i.id for i in chosen}
    for item in pool:
        s = out.setdefault(item.capability, {"pool": 0, "selected": 0, "agreeing": 0,
                                             "compared": 0})
        s["pool"] += 1
        s["selected"] += item.id in kept
        if item.agree is not None:
            s["compared"] += 1
            s["agreeing"] += item.agree
    for s in out.values():
        s["agreement"] = s["agreeing"] / s["compared"] if s["compared"] else None
    return out


def _read_selected(pipeline: Pipeline, stage: Stage) -> list[TrainExample]:
    return [TrainExample(prompt=item["prompt"], target=item["label"])
            for item in read_jsonl(pipeline._out(stage) / "selected.jsonl")]


def _read_completions(pipeline: Pipeline, stage: Stage) -> list[TrainExample]:
    return [TrainExample(prompt=p["prompt"], target=p["completion"])
            for p in read_jsonl(pipeline._out(stage) / "predictions.jsonl")]
