"""Finished stages -> result rows, transfer rows and analyses, read through ``harness.outputs``.

The collector only reads entries: every score and extracted answer was written by a grade
stage, so no plugin code runs after the stages (a capability fixed since is recomputed by its
grade stages, not patched over here)."""

from __future__ import annotations

import shutil
from pathlib import Path

from harness import outputs
from harness.analysis import agreement, auc, compression_ratio, distinct_n
from harness.controls import Budget
from harness.graph import EvalRef, Graph
from harness.schemas import CapabilityResult, Suite, TransferResult
from harness.stats import pgr


class Collector:
    def __init__(self, graph: Graph, entries: dict[str, Path], suite: Suite,
                 chance: dict[str, float | None]) -> None:
        self.graph = graph
        self.entries = entries
        """Stage id -> its cache entry."""
        self.suite = suite
        self.chance = chance
        """Capability -> ``Capability.chance``, a class attribute the report compares with."""
        self._graded: dict[str, list[outputs.Prediction]] = {}

    def predictions(self, node: str) -> list[outputs.Prediction]:
        """A grade stage's predictions, read once: every method's result reads the same weak
        and ceiling entries."""
        if node not in self._graded:
            self._graded[node] = outputs.predictions(self.entries[node])
        return self._graded[node]

    def results(self, run_id: str) -> list[CapabilityResult]:
        out = []
        for ref in self.graph.evals:
            cap = ref.capability
            read = {role: outputs.scores(self.entries[getattr(ref, role)])
                    for role in ("weak", "ceiling", "w2s")}
            scores = {role: r.accuracy[cap] for role, r in read.items()}
            metrics = {f"{role}_{k}": v for role, r in read.items()
                       for k, v in r.metrics.get(cap, {}).items()}
            items = self.items(ref)
            value, note = pgr(scores["weak"], scores["w2s"], scores["ceiling"], self.suite.min_gap,
                              items["weak"], items["ceiling"])
            out.append(CapabilityResult(
                run_id=run_id, suite=self.suite.name, seed=ref.seed, mixture=ref.mixture,
                method=ref.method, capability=cap, weak=scores["weak"],
                ceiling=scores["ceiling"], w2s=scores["w2s"], pgr=value, pgr_note=note,
                n_test=read["w2s"].n[cap], items=items, metrics=metrics,
                baselines={b: outputs.scores(self.entries[node]).accuracy[cap]
                           for b, node in ref.baselines.items()},
                chance=self.chance[cap],
                empty=self.empty(ref),
                analysis=self.analysis(ref),
            ))
        return out

    def items(self, ref: EvalRef) -> dict[str, list[float]]:
        """Each role's (and each untuned baseline's) per-item test scores on the capability,
        in item id order."""
        return {role: self.scored(node, ref.capability)
                for role, node in self.test_stages(ref).items()}

    def scored(self, node: str, capability: str) -> list[float]:
        """A grade stage's per-item scores on ``capability``, in item id order."""
        by_id = {p.id: p.score for p in self.predictions(node) if p.capability == capability}
        return [by_id[i] for i in sorted(by_id)]

    def empty(self, ref: EvalRef) -> dict[str, int]:
        """Per role and untuned baseline, how many test completions on the capability hold
        nothing but whitespace: a model that ends its answer at once (its first token is the
        end of text) scores 0 without having answered."""
        return {role: sum(not p.completion.strip() for p in self.predictions(node)
                          if p.capability == ref.capability)
                for role, node in self.test_stages(ref).items()}

    @staticmethod
    def test_stages(ref: EvalRef) -> dict[str, str]:
        """Role (``weak``, ``w2s``, ``ceiling``) or untuned baseline -> its test grade stage."""
        return {**{role: getattr(ref, role) for role in ("weak", "w2s", "ceiling")},
                **ref.baselines}

    def label_scores(self, ref: EvalRef) -> dict[str, float]:
        """Each weak label's score against gold on the result's capability, by item id."""
        return {p.id: p.score for p in self.predictions(ref.labels)
                if p.capability == ref.capability}

    def trained_on(self, ref: EvalRef) -> list[tuple[str, float]]:
        """(prompt + label, the label's score against gold) for every example the method's
        strong model trained on, step by step: weak labels a selection kept are scored by the
        labelling's grades, a self-bootstrap round's own labels by their own grade stage."""
        correct = self.label_scores(ref)
        out = []
        for node in ref.trained_on:
            if self.graph.stages[node].kind == "grade":
                out += [(p.prompt + p.completion, p.score) for p in self.predictions(node)
                        if p.capability == ref.capability]
            else:
                out += [(i.prompt + i.label, correct[i.id])
                        for i in outputs.selected(self.entries[node])
                        if i.capability == ref.capability]
        return out

    def analysis(self, ref: EvalRef) -> dict[str, float]:
        """The data and agreement measures of one result (see ``CapabilityResult.analysis``)."""
        cap = ref.capability
        labels, select = self.entries[ref.labels], self.entries[ref.select]
        correct = self.label_scores(ref)
        chosen = [i for i in outputs.selected(select) if i.capability == cap]
        trained = self.trained_on(ref)
        texts = [text for text, _ in trained]
        budget = self.budget(ref)
        out = {
            "weak_label_acc": outputs.scores(labels).accuracy[cap],
            "selected_n": float(len(chosen)),
            "selected_label_acc": sum(correct[i.id] for i in chosen) / max(1, len(chosen)),
            "train_n": float(len(trained)),
            "train_label_acc": sum(score for _, score in trained) / max(1, len(trained)),
            "train_distinct_2": distinct_n(texts, 2),
            "train_compression": compression_ratio(texts),
            **({"train_examples": budget.examples, "train_steps": float(budget.steps)}
               if budget else {}),
        }
        summary = outputs.selection_summary(select)
        if summary[cap].get("agreement") is not None:
            out["pool_agreement"] = summary[cap]["agreement"]
        out.update(self.reward_measures(ref))
        answers = {role: {p.id: p.extracted for p in self.predictions(getattr(ref, role))
                          if p.capability == cap}
                   for role in ("weak", "w2s")}
        ids = sorted(answers["w2s"])
        out["supervisor_agreement"] = agreement([answers["w2s"][i] for i in ids],
                                                [answers["weak"].get(i) for i in ids])
        return out

    def budget(self, ref: EvalRef) -> Budget | None:
        """The method's training budget on this result's model (``harness.controls``): each
        step's shape with the size of what it trained on, over every capability it mixed;
        None where a step's trainer declares no shape."""
        if len(ref.shapes) != len(ref.trained_on):
            return None
        sizes = [len(self.predictions(node)) if self.graph.stages[node].kind == "grade"
                 else len(outputs.selected(self.entries[node])) for node in ref.trained_on]
        return Budget.of(list(zip(sizes, ref.shapes)))

    def reward_measures(self, ref: EvalRef) -> dict[str, float]:
        """Where the selector trained a reward model: its held-out pairwise accuracy on this
        capability, and how well its rewards rank the weak labels' correctness (AUC), computed
        here, after the selection, so gold never reaches the selector."""
        select, out = self.entries[ref.select], {}
        held = (outputs.reward_report(select) or {}).get("held_out_accuracy") or {}
        if ref.capability in held:
            out["rm_held_out_acc"] = held[ref.capability]
        rewards = outputs.rewards(select)
        correct = {i: s for i, s in self.label_scores(ref).items() if i in rewards}
        ranked = auc([rewards[i] for i, s in correct.items() if s == 1],
                     [rewards[i] for i, s in correct.items() if s != 1])
        if ranked is not None:
            out["rm_auc"] = ranked
        return out

    def transfer(self, run_id: str) -> list[TransferResult]:
        return [TransferResult(run_id=run_id, seed=t.seed, method=t.method,
                               trained_on=t.trained_on, evaluated_on=t.evaluated_on,
                               accuracy=outputs.scores(self.entries[t.stage])
                               .accuracy[t.evaluated_on],
                               items=self.scored(t.stage, t.evaluated_on))
                for t in self.graph.transfer]

    def copy_predictions(self, folder: Path) -> None:
        """Every graded stage's per-sample predictions, one file per decode stage's label."""
        folder.mkdir()
        for node, spec in self.graph.stages.items():
            if spec.kind == "grade":
                shutil.copyfile(outputs.predictions_file(self.entries[node]),
                                folder / f"{spec.slug.removeprefix('grade_')}.jsonl")
