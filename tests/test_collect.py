"""The collector's training-data measures: label accuracy over everything a method trained on,
and the reward model's figures per capability (cache entries written here, no model runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import outputs
from harness.bases import WeakItem
from harness.collect import Collector
from harness.graph import EvalRef, Graph, StageSpec
from harness.outputs import Prediction, Scores
from harness.store import write_json, write_jsonl


def _graded(entry: Path, scores: dict[str, float], cap: str = "c") -> None:
    entry.mkdir(parents=True)
    outputs.write_graded(entry, [Prediction(id=i, capability=cap, prompt=f"q{i}", answer="a",
                                            completion=f" l{i}", extracted=f"l{i}", score=s)
                                 for i, s in scores.items()],
                         Scores(accuracy={cap: sum(scores.values()) / len(scores)},
                                metrics={}, n={cap: len(scores)}))


def _selection(entry: Path, ids: list[str], rewards: dict[str, float] | None = None,
               held: dict | None = None, cap: str = "c") -> None:
    entry.mkdir(parents=True)
    outputs.write_selection(entry, [WeakItem(id=i, capability=cap, prompt=f"q{i}",
                                             label=f" l{i}") for i in ids],
                            {cap: {"pool": 4, "selected": len(ids), "agreement": None}})
    if rewards is not None:
        write_jsonl(entry / "rewards.jsonl", [{"id": i, "reward": r} for i, r in rewards.items()])
        write_json(entry / "reward_model.json", {"held_out_accuracy": held})


def _collector(tmp_path: Path, trained_on: list[str], kinds: dict[str, str]) -> Collector:
    graph = Graph()
    for node, kind in kinds.items():
        graph.stages[node] = StageSpec(kind=kind, label=node, params={})
    ref = EvalRef(seed=0, mixture="joint", capability="c", method="m", weak="t", ceiling="t",
                  w2s="t", labels="labels", select="select", data="data",
                  trained_on=trained_on)
    graph.evals.append(ref)
    entries = {n: tmp_path / n for n in kinds}
    return Collector(graph, entries, None, {})  # type: ignore[arg-type]


def test_training_label_accuracy_counts_every_step_and_a_bootstraps_own_labels(tmp_path):
    # The weak labels: 2 of 4 right. The selection keeps the 2 right ones. A self-bootstrap
    # round relabels the pool and gets 1 of 4 right.
    _graded(tmp_path / "labels", {"1": 1.0, "2": 1.0, "3": 0.0, "4": 0.0})
    _selection(tmp_path / "pool", ["1", "2", "3", "4"])
    _selection(tmp_path / "select", ["1", "2"])
    _graded(tmp_path / "relabel", {"1": 1.0, "2": 0.0, "3": 0.0, "4": 0.0})
    kinds = {"labels": "grade", "pool": "select", "select": "select", "relabel": "grade"}
    # Two stages (all weak labels, then the selection): 6 examples, 4 right.
    two = _collector(tmp_path, ["pool", "select"], kinds)
    trained = two.trained_on(two.graph.evals[0])
    assert len(trained) == 6 and sum(s for _, s in trained) / 6 == pytest.approx(4 / 6)
    # Self-bootstrap (the weak labels, then its own): 8 examples, 3 right; the selection alone
    # (what used to be reported) would say 2 of 4.
    boot = _collector(tmp_path, ["pool", "relabel"], kinds)
    trained = boot.trained_on(boot.graph.evals[0])
    assert sum(s for _, s in trained) / len(trained) == pytest.approx(3 / 8)
    assert trained[0] == ("q1 l1", 1.0) and trained[-1] == ("q4 l4", 0.0)


def test_reward_model_figures_are_per_capability_and_rank_label_correctness(tmp_path):
    _graded(tmp_path / "labels", {"1": 1.0, "2": 1.0, "3": 0.0, "4": 0.0})
    # Rewards rank three of the four (right, wrong) pairs correctly: AUC 0.75.
    _selection(tmp_path / "select", ["1", "2"], rewards={"1": 0.9, "2": 0.2, "3": 0.5, "4": 0.1},
               held={"c": 0.8, "other": 0.4})
    _selection(tmp_path / "pool", ["1", "2", "3", "4"])
    collector = _collector(tmp_path, ["pool"], {"labels": "grade", "select": "select",
                                                "pool": "select"})
    assert collector.reward_measures(collector.graph.evals[0]) == {"rm_held_out_acc": 0.8,
                                                                    "rm_auc": 0.75}
    # A selector that trained no reward model: no figures.
    plain = _collector(tmp_path, ["pool"], {"labels": "grade", "select": "select",
                                            "pool": "select"})
    plain.entries["select"] = tmp_path / "pool"
    assert plain.reward_measures(plain.graph.evals[0]) == {}


def test_empty_completions_are_counted_per_role_and_warned_of(tmp_path):
    """An untuned model that emits the end of text at once scores 0 without answering; before,
    no table or warning said so (the hf backend's empty sciq completions went unseen)."""
    from harness.schemas import CapabilityResult
    from harness.report import summarise, warnings

    entry = tmp_path / "t"
    entry.mkdir()
    completions = {"1": " yes", "2": "", "3": " \n ", "4": " no"}
    outputs.write_graded(entry, [Prediction(id=i, capability="c", prompt=f"q{i}", answer="a",
                                            completion=c, extracted=c.strip() or None, score=0.0)
                                 for i, c in completions.items()],
                         Scores(accuracy={"c": 0.0}, metrics={}, n={"c": 4}))
    collector = _collector(tmp_path, [], {"t": "grade"})
    ref = collector.graph.evals[0]
    ref.baselines = {"strong_0shot": "t"}
    empty = collector.empty(ref)
    assert empty == {"weak": 2, "w2s": 2, "ceiling": 2, "strong_0shot": 2}
    result = CapabilityResult(run_id="r", suite="s", seed=0, mixture="joint", method="m",
                              capability="c", weak=0.0, ceiling=0.0, w2s=0.0, pgr=None, n_test=4,
                              items={k: [0.0] * 4 for k in empty}, empty=empty,
                              baselines={"strong_0shot": 0.0})
    said = [w for w in warnings(summarise([result])) if "empty" in w]
    assert "c (joint): strong base 0-shot gave 2 empty completions of 4" in said
    assert len(said) == 4  # weak, ceiling, the untuned strong model and m's W2S


def test_the_collector_runs_no_plugin_code(tmp_path, monkeypatch):
    """A finished run's results come from its grade entries alone: with every capability's
    ``answer_of`` and ``score`` broken after the stages, collecting still gives the figures
    (the agreement with the supervisor from the answers the grade stages recorded)."""
    from conftest import fake_suite, record_of, run_fake
    from harness.bases import Capability
    from harness.graph import Graph
    from harness.schemas import Suite

    run_dir, manifest = run_fake(fake_suite(tmp_path), tmp_path / "home")
    graph = Graph.model_validate(record_of(run_dir)["graph"])
    home = tmp_path / "home" / "cache"
    entries = {s["node"]: home / s["stage"] / s["key"] for s in manifest["stages"]}

    def broken(*args, **kwargs):
        raise AssertionError("the collector called plugin code")

    monkeypatch.setattr(Capability, "answer_of", broken)
    monkeypatch.setattr(Capability, "score", broken)
    rows = Collector(graph, entries, Suite.model_validate(manifest["suite"]),
                     {c: None for c in ("fake_lookup", "synth_arith")}).results("again")
    written = record_of(run_dir)["results"]
    assert [r.model_dump(exclude={"run_id"}) for r in rows] == \
        [{k: v for k, v in r.items() if k != "run_id"} | {"chance": None} for r in written]
    assert all("supervisor_agreement" in r.analysis for r in rows)
