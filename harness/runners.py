"""One module-level function per stage kind: ``run(spec, inputs, out, plugins)``.

A runner gets the stage's spec (data), its inputs' cache entries by role, an empty directory
to fill, and the registry to rebuild the plugins it needs from by name and params (the
worker's, handed in: a runner never reaches for a global one).
Nothing here is a closure over a planner or a run, so any process can run any stage. Heavy
imports (torch, transformers, vllm) happen inside the plugins, in the worker.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict

from harness import outputs, trust
from harness.bases import Backend, Capability, Features, Head, Row, SelectContext, Selector, \
    Supervisor, TrainContext, Trainer, TrainExample, WeakItem
from harness.faults import PluginFault, blame, checked_selection, copies, edits
from harness.graph import PARAMS, StageParams, StageSpec
from harness.guard import no_gold
from harness.outputs import Completion, Prediction, Scores
from harness.progress import say
from harness.registry import Registry
from harness.resolver import resolve


class Ref(BaseModel):
    """A plugin as a spec holds it: name, version and validated params (``planner.ref``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: int = 1
    params: dict[str, Any] = {}


def params_of(spec: StageSpec) -> StageParams:
    """A spec's params as its kind's model (``KINDS``)."""
    return KINDS[spec.kind].params.of(spec)


class Loads(StageParams):
    """A stage that loads a model: a named base (``model`` or ``base``, with its identity) or,
    when those are unset, its ``model``/``base`` input's weights."""

    trust_remote_code: bool = False

    def named(self, role: str) -> str | None:
        return getattr(self, role, None)


def _make(plugins: Registry, kind: str, ref: Ref):
    return plugins.make(kind, ref.name, ref.params)


def stage_where(spec: StageSpec, p: StageParams) -> str:
    """A stage, for an error line: its label and the capabilities it works on (``p``, its
    params, which its runner has already read)."""
    return f"stage {spec.label}; capabilities {'+'.join(p.capability_names())}"


def _capabilities(plugins: Registry, refs: dict[str, Ref]) -> dict[str, Capability]:
    return {c: _make(plugins, "capabilities", r) for c, r in refs.items()}


def _model(p: Loads, inputs: dict[str, Path], role: str) -> str:
    """The weights a stage loads: a train stage's output, or the named base model (a tiny
    model is built on first use). A model trained from one the suite trusts is trusted too."""
    if role in inputs:
        path = str(outputs.model_dir(inputs[role]))
    else:
        path = resolve(p.named(role) or "")
    if p.trust_remote_code:
        trust.allow(path)
    return path


def _rows(inputs: dict[str, Path], cap: str, split: str) -> list[Row]:
    return outputs.rows(inputs[f"data:{cap}"], split)


class DataParams(StageParams):
    kind = "data"
    capability: Ref
    source: str | None = None
    seed: int

    def capability_names(self) -> list[str]:
        return [self.capability.name]


def data(spec: StageSpec, inputs: dict[str, Path], out: Path, plugins: Registry) -> None:
    p = DataParams.of(spec)
    cap: Capability = _make(plugins, "capabilities", p.capability)
    with blame(cap, stage_where(spec, p), "load()"):
        splits = cap.load(p.seed, p.source)
    for split, rows in splits.names().items():
        outputs.write_rows(out, split, rows)
    outputs.write_account(out, outputs.SplitAccount.of(splits, cap.params))


class TrainParams(Loads):
    kind = "train"
    trainer: Ref
    seed: int
    base: str | None = None
    base_identity: str | None = None
    examples: Literal["gold", "self", "selected", "shuffled"]
    """Gold rows of ``split`` of ``capabilities``; the model's own answers (input ``self``);
    a selection of weak labels (input ``selected``), or its labels shuffled across items
    within each capability (the format-only control)."""
    split: str | None = None
    capabilities: list[str] | None = None


def train(spec: StageSpec, inputs: dict[str, Path], out: Path, plugins: Registry) -> None:
    p = TrainParams.of(spec)
    examples: list[TrainExample]
    if p.examples == "gold":
        examples = [TrainExample(prompt=r.prompt, target=r.target)
                    for cap in p.capability_names() for r in _rows(inputs, cap, p.split or "")]
    elif p.examples == "self":
        examples = outputs.completions_as_examples(inputs["self"])
    elif p.examples == "shuffled":
        examples = outputs.shuffled_as_examples(inputs["selected"], p.seed)
    else:
        examples = outputs.selected_as_examples(inputs["selected"])
    trainer: Trainer = _make(plugins, "trainers", p.trainer)
    (out / "work").mkdir()
    base = _model(p, inputs, "base")
    with blame(trainer, stage_where(spec, p), "train()"):
        trainer.train(base, examples, outputs.model_dir(out),
                      TrainContext(seed=p.seed, work_dir=out / "work",
                                   progress_label=spec.label,
                                   history=outputs.history_file(out)))


class DecodeParams(Loads):
    kind = "decode"
    model: str | None = None
    model_identity: str | None = None
    split: str
    capabilities: list[str]
    decode: dict[str, dict[str, Any]]
    """Per capability, its ``DecodeConfig`` as the planner dumped it (validated when run)."""
    backend: Ref
    shots: int = 0
    shot_seed: int = 0


def decode(spec: StageSpec, inputs: dict[str, Path], out: Path, plugins: Registry) -> None:
    """Completions only: grading is its own stage, so a scoring bug (or a fix to one) never
    costs the decodes, which are the expensive part."""
    from harness.bases import DecodeConfig

    p = DecodeParams.of(spec)
    backend: Backend = _make(plugins, "backends", p.backend)
    model = _model(p, inputs, "model")
    records: list[Completion] = []
    for name in p.capabilities:
        rows = _rows(inputs, name, p.split)
        config = DecodeConfig.model_validate(p.decode[name])
        head = shots(_rows(inputs, name, "labeled"), p.shots, f"{p.shot_seed}:{name}")
        with blame(backend, stage_where(spec, p), "generate()"):
            gens = backend.complete(model, [head + r.prompt for r in rows], config)
        records += [Completion(id=row.id, capability=name, prompt=row.prompt,
                               completion=gen.text) for row, gen in zip(rows, gens)]
    outputs.write_completions(out, records)


class SuperviseParams(StageParams):
    kind = "supervise"
    supervisor: Ref
    seed: int
    split: str
    capabilities: dict[str, Ref]


def supervise(spec: StageSpec, inputs: dict[str, Path], out: Path, plugins: Registry) -> None:
    """A supervisor's own labels of ``split``, written as completions, so they are graded and
    trained on exactly as a weak model's are."""
    p = SuperviseParams.of(spec)
    supervisor: Supervisor = _make(plugins, "supervisors", p.supervisor)
    where = stage_where(spec, p)
    records: list[Completion] = []
    for name, cap in _capabilities(plugins, p.capabilities).items():
        splits = {split: _rows(inputs, name, split) for split in ("labeled", "unlabeled", "test")}
        rows = splits[p.split]
        with blame(supervisor, where, "label()"):
            labels = supervisor.label(cap, rows, splits, p.seed)
            if len(labels) != len(rows) or not all(isinstance(t, str) for t in labels):
                raise TypeError(f"returned {len(labels)} labels for {len(rows)} rows; return "
                                "one string per row, in order")
        records += [Completion(id=r.id, capability=name, prompt=r.prompt, completion=t)
                    for r, t in zip(rows, labels)]
    outputs.write_completions(out, records)


class GradeParams(StageParams):
    kind = "grade"
    split: str
    capabilities: dict[str, Ref]


def grade(spec: StageSpec, inputs: dict[str, Path], out: Path, plugins: Registry) -> None:
    """Each completion scored against its row's gold answer by its capability."""
    p = GradeParams.of(spec)
    where = stage_where(spec, p)
    done = outputs.completions(inputs["completions"])
    records: list[Prediction] = []
    accuracy, metrics, counts = {}, {}, {}
    for name, cap in _capabilities(plugins, p.capabilities).items():
        rows = {r.id: r for r in _rows(inputs, name, p.split)}
        mine = [(rows[c.id], c) for c in done if c.capability == name]
        with blame(cap, where, "scoring a completion"):
            values = [cap.score(row, c.completion) for row, c in mine]
        with blame(cap, where, "answer_of()"):
            answers = [cap.answer_of(row, c.completion) for row, c in mine]
        records += [Prediction(id=row.id, capability=name, prompt=row.prompt, answer=row.answer,
                               completion=c.completion, extracted=got, score=value)
                    for (row, c), value, got in zip(mine, values, answers)]
        accuracy[name] = sum(values) / max(1, len(values))
        with blame(cap, where, "metrics()"):
            metrics[name] = cap.metrics([row for row, _ in mine], values)
        counts[name] = len(values)
    outputs.write_graded(out, records, Scores(accuracy=accuracy, metrics=metrics, n=counts))


def shots(labeled: list[Row], k: int, seed: str) -> str:
    """``k`` solved examples from the labeled split (ground truth the weak model trains on
    anyway), drawn by ``seed``, each a prompt and its target, blank-line separated: how an
    untuned base model is shown the answer format."""
    if k <= 0:
        return ""
    picked = random.Random(seed).sample(labeled, min(k, len(labeled)))
    return "".join(f"{r.prompt}{r.target}\n\n" for r in picked)


class ScoreParams(Loads):
    kind = "score"
    model: str | None = None
    model_identity: str | None = None
    backend: Ref


def score(spec: StageSpec, inputs: dict[str, Path], out: Path, plugins: Registry) -> None:
    """The weak model's mean token log-probability of each of its labels."""
    p = ScoreParams.of(spec)
    backend: Backend = _make(plugins, "backends", p.backend)
    preds = outputs.completions(inputs["labels"])
    model = _model(p, inputs, "model")
    with blame(backend, stage_where(spec, p), "logprobs()"):
        values = backend.logprobs(model, [q.prompt for q in preds], [q.completion for q in preds])
    outputs.write_signal(out, {q.id: v for q, v in zip(preds, values)})


class FeaturesParams(Loads):
    kind = "features"
    model: str | None = None
    model_identity: str | None = None
    split: str
    capability: str
    layers: list[int]
    backend: Ref

    def capability_names(self) -> list[str]:
        return [self.capability]


def features(spec: StageSpec, inputs: dict[str, Path], out: Path, plugins: Registry) -> None:
    """A model's hidden states at each prompt's last token of one capability's split: read
    once, shared by every head student and probe selector that reads these layers."""
    p = FeaturesParams.of(spec)
    backend: Backend = _make(plugins, "backends", p.backend)
    rows = _rows(inputs, p.capability, p.split)
    with blame(backend, stage_where(spec, p), "hidden_states()"):
        found = backend.hidden_states(_model(p, inputs, "model"), [r.prompt for r in rows],
                                      p.layers)
    outputs.write_features(out, Features(ids=[r.id for r in rows], layers=found))


class HeadParams(StageParams):
    kind = "head"
    trainer: Ref
    seed: int
    split: str
    """The split it answers (its predictions are graded like a decode's)."""
    capabilities: dict[str, Ref]
    examples: Literal["gold", "selected", "shuffled"]
    """As a train stage's: the unlabeled split's gold (the ceiling), a selection of weak
    labels, or those labels shuffled across items (the format-only control)."""


def head(spec: StageSpec, inputs: dict[str, Path], out: Path, plugins: Registry) -> None:
    """A head student (``harness.Head``): fitted on the unlabeled split's features and
    labels, it answers ``split``; each answer is written as the target of a labeled row that
    gives it, so the grade stage reads it as any student's completion."""
    p = HeadParams.of(spec)
    trainer = _make(plugins, "trainers", p.trainer)
    assert isinstance(trainer, Head), trainer.name  # the planner plans heads only for heads
    where = stage_where(spec, p)
    labelled = _labelled(p, inputs)
    records: list[Completion] = []
    chosen: dict[str, Any] = {}
    for name, cap in _capabilities(plugins, p.capabilities).items():
        train, test = (outputs.features(inputs[f"features:{name}:{split}"])
                       for split in ("unlabeled", p.split))
        rows = {r.id: r for r in _rows(inputs, name, "unlabeled")}
        with blame(cap, where, "answer_of()"):
            answers = {i: cap.answer_of(rows[i], text) for i, text in labelled[name].items()}
        known = {i: a for i in train.ids if (a := answers.get(i)) is not None}
        at = {i: n for n, i in enumerate(train.ids)}
        kept = Features(ids=list(known), layers={n: v[[at[i] for i in known]]
                                                 for n, v in train.layers.items()})
        with blame(trainer, where, "fit_predict()"):
            said, chosen[name] = trainer.fit_predict(kept, list(known.values()), test, p.seed)
        targets = _targets(cap, _rows(inputs, name, "labeled"), answers, labelled[name])
        unknown = sorted({a for a in said if a not in targets})
        if unknown:
            raise PluginFault(f"trainer {trainer.name} [{where}] predicted {unknown[0]!r}, "
                              "which none of its training labels gives; predict one of them")
        by_id = {r.id: r for r in _rows(inputs, name, p.split)}
        records += [Completion(id=i, capability=name, prompt=by_id[i].prompt,
                               completion=targets[a]) for i, a in zip(test.ids, said)]
    outputs.write_completions(out, records)
    outputs.write_choices(out, chosen)


def _labelled(p: HeadParams, inputs: dict[str, Path]) -> dict[str, dict[str, str]]:
    """Per capability, the label text a head trains on, by unlabeled item id."""
    out: dict[str, dict[str, str]] = {c: {} for c in p.capabilities}
    if p.examples == "gold":
        for c in p.capabilities:
            out[c] = {r.id: r.target for r in _rows(inputs, c, "unlabeled")}
        return out
    items = outputs.selected(inputs["selected"])
    texts = [e.target for e in outputs.shuffled_as_examples(inputs["selected"], p.seed)] \
        if p.examples == "shuffled" else [i.label for i in items]
    for item, text in zip(items, texts):
        out[item.capability][item.id] = text
    return out


def _targets(cap: Capability, labeled: list[Row], answers: dict[str, str | None],
             labelled: dict[str, str]) -> dict[str, str]:
    """Each answer a head may give, with a completion that gives it: a labeled row's gold
    target (ground truth the weak side trains on anyway), else the first training label
    that gives it (by item id; ``answers``: each label's reading, already made)."""
    out: dict[str, str] = {}
    for r in labeled:
        out.setdefault(cap.gold_of(r), r.target)
    for i in sorted(labelled):
        answer = answers[i]
        if answer is not None:
            out.setdefault(answer, labelled[i])
    return out


class SelectParams(StageParams):
    kind = "select"
    selector: Ref
    seed: int
    backend: Ref
    capabilities: dict[str, Ref]
    strong: str | None = None
    strong_identity: str = ""
    weak: str | None = None
    trust_remote_code: bool = False


def select(spec: StageSpec, inputs: dict[str, Path], out: Path, plugins: Registry) -> None:
    p = SelectParams.of(spec)
    selector: Selector = _make(plugins, "selectors", p.selector)
    where = stage_where(spec, p)
    pool = _pool(p, inputs, plugins, where)
    strong = resolve(p.strong or "")
    if p.trust_remote_code:
        trust.allow(strong)
    weak = inputs.get("signal:weak_model")
    ctx = SelectContext(seed=p.seed, strong_model=strong,
                        weak_path=str(outputs.model_dir(weak)) if weak else None,
                        strong_features=outputs.features(inputs["signal:strong_features"])
                        if "signal:strong_features" in inputs else None,
                        backend=_make(plugins, "backends", p.backend), work_dir=out)
    gold = [e for role, e in inputs.items() if role.startswith("data:")]
    given = copies(pool)
    with blame(selector, where, "select()"), no_gold(*gold, out.parent.parent / "data"):
        returned = selector.select(given, ctx)
    chosen = checked_selection(selector, where, pool, returned)
    edited = edits(pool, given, returned, selector.relabels)
    if edited:
        say(f"warning: selector {selector.name} [{where}] edited {len(edited)} pool items "
            f"(e.g. {edited[0]!r}), in place or in the items it returned; the harness trains "
            "on its own copy of the weak labels, unedited")
    outputs.write_selection(out, chosen, selection_summary(pool, chosen))
    if selector.relabels:  # graded, so what the student trained on is scored as it was
        outputs.write_completions(out, [Completion(id=i.id, capability=i.capability,
                                                   prompt=i.prompt, completion=i.label)
                                        for i in chosen])


def _pool(p: SelectParams, inputs: dict[str, Path], plugins: Registry,
          where: str) -> list[WeakItem]:
    """The weak labels, with the signals the selector asked for; never the gold answers."""
    extra: dict[str, dict[str, Any]] = {}
    for role, entry in inputs.items():
        if role == "signal:weak_logprob":
            extra["weak_logprob"] = outputs.signal(entry)
        elif role in ("signal:student_answer", "signal:base_answer"):
            extra["strong_answer"] = {q.id: q.completion for q in outputs.completions(entry)}
    caps = _capabilities(plugins, p.capabilities)
    rows = {r.id: r for c in caps for r in _rows(inputs, c, "unlabeled")}
    pool = []
    for q in outputs.completions(inputs["labels"]):
        item = WeakItem(id=q.id, capability=q.capability, prompt=q.prompt, label=q.completion,
                        **{k: v[q.id] for k, v in extra.items()})
        cap, row = caps[item.capability], rows[item.id]
        if cap.labels and "signal:strong_features" in inputs:  # what a probe learns to predict
            with blame(cap, where, "answer_of()"):
                item.answer = cap.answer_of(row, item.label)
        if item.strong_answer is not None:
            with blame(cap, where, "answer_of()"):
                mine = cap.answer_of(row, item.label)
                item.agree = mine is not None and mine == cap.answer_of(row, item.strong_answer)
        pool.append(item)
    return pool


def selection_summary(pool: list[WeakItem], chosen: list[WeakItem]) -> dict[str, dict]:
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


Runner = Callable[[StageSpec, dict[str, Path], Path, Registry], None]
Sizing = Literal["none", "train", "select", "decode", "score"]


@dataclass(frozen=True)
class StageKind:
    """Everything about one stage kind, declared together: its params model (whose ``kind``
    names it), its runner, its output format's revision, where it runs, and how ``harness
    plan`` sizes it. The planner, the scheduler's executors, the cache keys and the sizing all
    read a kind from here (``KINDS``), so a new kind is one such object and its use in the
    planner."""

    params: type[StageParams]
    run: Runner
    revision: int = 1
    """Bumped when the kind's output format changes; in its cache keys once past 1, so only its
    entries are recomputed (grade 2: each prediction records its extracted answer)."""
    here: bool = False
    """The local executor runs it in its own process: it loads no model, so a worker (and its
    torch import) would only delay a bad file's error."""
    sizing: Sizing = "none"
    """How ``harness plan`` sizes it: ``none`` (CPU only, no estimate), ``train``, ``select``
    (a selector that may train a scalar-head model), ``decode`` (prefill and generation) or
    ``score`` (one forward pass over given completions)."""

    @property
    def name(self) -> str:
        return self.params.kind


KINDS: dict[str, StageKind] = {}
"""Every stage kind by name."""


def register(kind: StageKind) -> StageKind:
    """Add a stage kind (its name must be new)."""
    if kind.name in KINDS:
        raise ValueError(f"stage kind {kind.name!r} is already registered")
    KINDS[kind.name] = kind
    PARAMS[kind.name] = kind.params
    return kind


for _kind in (StageKind(DataParams, data, here=True),
              StageKind(TrainParams, train, sizing="train"),
              StageKind(DecodeParams, decode, sizing="decode"),
              StageKind(SuperviseParams, supervise, here=True),
              StageKind(GradeParams, grade, revision=2),
              StageKind(ScoreParams, score, sizing="score"),
              StageKind(FeaturesParams, features),
              StageKind(HeadParams, head),
              StageKind(SelectParams, select, sizing="select")):
    register(_kind)


def run(spec: StageSpec, inputs: dict[str, Path], out: Path, plugins: Registry) -> None:
    KINDS[spec.kind].run(spec, inputs, out, plugins)
