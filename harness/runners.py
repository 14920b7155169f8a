"""One module-level function per stage kind: ``run(spec, inputs, out, plugins)``.

A runner gets the stage's spec (data), its inputs' cache entries by role, an empty directory
to fill, and the registry to rebuild the plugins it needs from by name and params (the
worker's, handed in: a runner never reaches for a global one).
Nothing here is a closure over a planner or a run, so any process can run any stage. Heavy
imports (torch, transformers, vllm) happen inside the plugins, in the worker.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Callable

from harness import outputs, trust
from harness.bases import Backend, Capability, Row, SelectContext, Selector, TrainContext, \
    Trainer, TrainExample, WeakItem
from harness.faults import blame, checked_selection, copies, edits
from harness.graph import StageSpec
from harness.guard import no_gold
from harness.outputs import Completion, Prediction, Scores
from harness.progress import say
from harness.registry import Registry
from harness.resolver import resolve


def _make(plugins: Registry, kind: str, ref: dict[str, Any]):
    return plugins.make(kind, ref["name"], ref["params"])


def stage_where(spec: StageSpec) -> str:
    """A stage, for an error line: its label and the capabilities it works on."""
    caps = "+".join(spec.params.get("capabilities") or
                    [spec.params.get("capability", {}).get("name", "")])
    return f"stage {spec.label}; capabilities {caps}"


def _capabilities(plugins: Registry, spec: StageSpec) -> dict[str, Capability]:
    return {c: _make(plugins, "capabilities", r) for c, r in spec.params["capabilities"].items()}


def _model(spec: StageSpec, inputs: dict[str, Path], role: str) -> str:
    """The weights a stage loads: a train stage's output, or the named base model (a tiny
    model is built on first use). A model trained from one the suite trusts is trusted too."""
    if role in inputs:
        path = str(outputs.model_dir(inputs[role]))
    else:
        path = resolve(spec.params[role])
    if spec.params.get("trust_remote_code"):
        trust.allow(path)
    return path


def _rows(inputs: dict[str, Path], cap: str, split: str) -> list[Row]:
    return outputs.rows(inputs[f"data:{cap}"], split)


def data(spec: StageSpec, inputs: dict[str, Path], out: Path,
         plugins: Registry) -> None:
    cap: Capability = _make(plugins, "capabilities", spec.params["capability"])
    with blame(cap, stage_where(spec), "load()"):
        splits = cap.load(spec.params["seed"], spec.params["source"])
    for split, rows in splits.names().items():
        outputs.write_rows(out, split, rows)


def train(spec: StageSpec, inputs: dict[str, Path], out: Path,
          plugins: Registry) -> None:
    p = spec.params
    examples: list[TrainExample]
    if p["examples"] == "gold":
        examples = [TrainExample(prompt=r.prompt, target=r.target)
                    for cap in p["capabilities"] for r in _rows(inputs, cap, p["split"])]
    elif p["examples"] == "self":
        examples = outputs.completions_as_examples(inputs["self"])
    else:
        examples = outputs.selected_as_examples(inputs["selected"])
    trainer: Trainer = _make(plugins, "trainers", p["trainer"])
    (out / "work").mkdir()
    base = _model(spec, inputs, "base")
    with blame(trainer, stage_where(spec), "train()"):
        trainer.train(base, examples, outputs.model_dir(out),
                      TrainContext(seed=p["seed"], work_dir=out / "work",
                                   progress_label=spec.label))


def decode(spec: StageSpec, inputs: dict[str, Path], out: Path,
           plugins: Registry) -> None:
    """Completions only: grading is its own stage, so a scoring bug (or a fix to one) never
    costs the decodes, which are the expensive part."""
    from harness.bases import DecodeConfig

    backend: Backend = _make(plugins, "backends", spec.params["backend"])
    model = _model(spec, inputs, "model")
    records: list[Completion] = []
    for name in spec.params["capabilities"]:
        rows = _rows(inputs, name, spec.params["split"])
        config = DecodeConfig.model_validate(spec.params["decode"][name])
        head = shots(_rows(inputs, name, "labeled"), spec.params.get("shots", 0),
                     f"{spec.params.get('shot_seed', 0)}:{name}")
        with blame(backend, stage_where(spec), "generate()"):
            gens = backend.complete(model, [head + r.prompt for r in rows], config)
        records += [Completion(id=row.id, capability=name, prompt=row.prompt,
                               completion=gen.text) for row, gen in zip(rows, gens)]
    outputs.write_completions(out, records)


def grade(spec: StageSpec, inputs: dict[str, Path], out: Path,
          plugins: Registry) -> None:
    """Each completion scored against its row's gold answer by its capability."""
    done = outputs.completions(inputs["completions"])
    records: list[Prediction] = []
    accuracy, metrics, counts = {}, {}, {}
    for name, cap in _capabilities(plugins, spec).items():
        rows = {r.id: r for r in _rows(inputs, name, spec.params["split"])}
        mine = [(rows[c.id], c) for c in done if c.capability == name]
        with blame(cap, stage_where(spec), "scoring a completion"):
            values = [cap.score(row, c.completion) for row, c in mine]
        with blame(cap, stage_where(spec), "answer_of()"):
            answers = [cap.answer_of(row, c.completion) for row, c in mine]
        records += [Prediction(id=row.id, capability=name, prompt=row.prompt, answer=row.answer,
                               completion=c.completion, extracted=got, score=value)
                    for (row, c), value, got in zip(mine, values, answers)]
        accuracy[name] = sum(values) / max(1, len(values))
        with blame(cap, stage_where(spec), "metrics()"):
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


def score(spec: StageSpec, inputs: dict[str, Path], out: Path,
          plugins: Registry) -> None:
    """The weak model's mean token log-probability of each of its labels."""
    backend: Backend = _make(plugins, "backends", spec.params["backend"])
    preds = outputs.completions(inputs["labels"])
    model = _model(spec, inputs, "model")
    with blame(backend, stage_where(spec), "logprobs()"):
        values = backend.logprobs(model, [p.prompt for p in preds], [p.completion for p in preds])
    outputs.write_signal(out, {p.id: v for p, v in zip(preds, values)})


def select(spec: StageSpec, inputs: dict[str, Path], out: Path,
           plugins: Registry) -> None:
    p = spec.params
    selector: Selector = _make(plugins, "selectors", p["selector"])
    pool = _pool(spec, inputs, plugins)
    strong = resolve(p["strong"])
    if p["trust_remote_code"]:
        trust.allow(strong)
    ctx = SelectContext(seed=p["seed"], strong_model=strong, weak_model=p["weak"],
                        backend=_make(plugins, "backends", p["backend"]), work_dir=out)
    gold = [e for role, e in inputs.items() if role.startswith("data:")]
    where = stage_where(spec)
    given = copies(pool)
    with blame(selector, where, "select()"), no_gold(*gold, out.parent.parent / "data"):
        chosen = selector.select(given, ctx)
    chosen = checked_selection(selector, where, pool, chosen)
    edited = edits(pool, given)
    if edited:
        say(f"warning: selector {selector.name} [{where}] edited {len(edited)} pool items in "
            f"place (e.g. {edited[0]!r}); the harness trains on its own copy of the weak labels")
    outputs.write_selection(out, chosen, selection_summary(pool, chosen))


def _pool(spec: StageSpec, inputs: dict[str, Path], plugins: Registry) -> list[WeakItem]:
    """The weak labels, with the signals the selector asked for; never the gold answers."""
    extra: dict[str, dict[str, Any]] = {}
    for role, entry in inputs.items():
        if role == "signal:weak_logprob":
            extra["weak_logprob"] = outputs.signal(entry)
        elif role.startswith("signal:"):
            extra["strong_answer"] = {q.id: q.completion for q in outputs.completions(entry)}
    caps = _capabilities(plugins, spec)
    rows = {r.id: r for c in caps for r in _rows(inputs, c, "unlabeled")}
    pool = []
    for q in outputs.completions(inputs["labels"]):
        item = WeakItem(id=q.id, capability=q.capability, prompt=q.prompt, label=q.completion,
                        **{k: v[q.id] for k, v in extra.items()})
        if item.strong_answer is not None:
            cap, row = caps[item.capability], rows[item.id]
            with blame(cap, stage_where(spec), "answer_of()"):
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


RUNNERS: dict[str, Callable[[StageSpec, dict[str, Path], Path, Registry], None]] = {
    "data": data, "train": train, "decode": decode, "grade": grade, "score": score,
    "select": select,
}


def run(spec: StageSpec, inputs: dict[str, Path], out: Path, plugins: Registry) -> None:
    RUNNERS[spec.kind](spec, inputs, out, plugins)
