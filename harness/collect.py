"""Finished stages -> result rows, transfer rows and analyses, read through ``harness.outputs``."""

from __future__ import annotations

import shutil
from pathlib import Path

from harness import outputs
from harness.analysis import agreement, compression_ratio, distinct_n
from harness.bases import Capability
from harness.faults import ABOVE, blame
from harness.graph import EvalRef, Graph
from harness.models import CapabilityResult, Suite, TransferResult
from harness.stats import pgr


class Collector:
    def __init__(self, graph: Graph, entries: dict[str, Path], suite: Suite,
                 capabilities: dict[str, Capability]) -> None:
        self.graph = graph
        self.entries = entries
        """Stage id -> its cache entry."""
        self.suite = suite
        self.capabilities = capabilities
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
            value, note = pgr(scores["weak"], scores["w2s"], scores["ceiling"], self.suite.min_gap,
                              read["w2s"].n[cap])
            out.append(CapabilityResult(
                run_id=run_id, suite=self.suite.name, seed=ref.seed, mixture=ref.mixture,
                method=ref.method, capability=cap, weak=scores["weak"],
                ceiling=scores["ceiling"], w2s=scores["w2s"], pgr=value, pgr_note=note,
                n_test=read["w2s"].n[cap], items=self.items(ref), metrics=metrics,
                analysis=self.analysis(ref),
            ))
        return out

    def items(self, ref: EvalRef) -> dict[str, list[float]]:
        """Each role's per-item test scores on the capability, in item id order."""
        out = {}
        for role in ("weak", "w2s", "ceiling"):
            by_id = {p.id: p.score for p in self.predictions(getattr(ref, role))
                     if p.capability == ref.capability}
            out[role] = [by_id[i] for i in sorted(by_id)]
        return out

    def analysis(self, ref: EvalRef) -> dict[str, float]:
        """The data and agreement measures of one result (see ``CapabilityResult.analysis``)."""
        cap = ref.capability
        labels, select = self.entries[ref.labels], self.entries[ref.select]
        correct = {p.id: p.score for p in self.predictions(ref.labels)}
        chosen = [i for i in outputs.selected(select) if i.capability == cap]
        texts = [i.prompt + i.label for i in chosen]
        out = {
            "weak_label_acc": outputs.scores(labels).accuracy[cap],
            "train_n": float(len(chosen)),
            "train_label_acc": sum(correct[i.id] for i in chosen) / max(1, len(chosen)),
            "train_distinct_2": distinct_n(texts, 2),
            "train_compression": compression_ratio(texts),
        }
        summary = outputs.selection_summary(select)
        if summary[cap].get("agreement") is not None:
            out["pool_agreement"] = summary[cap]["agreement"]
        held = (outputs.reward_report(select) or {}).get("held_out_accuracy")
        if held is not None:
            out["rm_held_out_acc"] = held
        capability = self.capabilities[cap]
        rows = {r.id: r for r in outputs.rows(self.entries[ref.data], "test")}
        with blame(capability, f"collecting {ref.method} on {cap} seed {ref.seed}",
                   "answer_of()", ABOVE):
            answers = {
                role: {p.id: capability.answer_of(rows[p.id], p.completion)
                       for p in self.predictions(getattr(ref, role))
                       if p.capability == cap}
                for role in ("weak", "w2s")
            }
        ids = sorted(answers["w2s"])
        out["supervisor_agreement"] = agreement([answers["w2s"][i] for i in ids],
                                                [answers["weak"].get(i) for i in ids])
        return out

    def transfer(self, run_id: str) -> list[TransferResult]:
        return [TransferResult(run_id=run_id, seed=t.seed, method=t.method,
                               trained_on=t.trained_on, evaluated_on=t.evaluated_on,
                               accuracy=outputs.scores(self.entries[t.stage])
                               .accuracy[t.evaluated_on])
                for t in self.graph.transfer]

    def copy_predictions(self, folder: Path) -> None:
        """Every graded stage's per-sample predictions, one file per decode stage's label."""
        folder.mkdir()
        for node, spec in self.graph.stages.items():
            if spec.kind == "grade":
                shutil.copyfile(outputs.predictions_file(self.entries[node]),
                                folder / f"{spec.slug.removeprefix('grade_')}.jsonl")
