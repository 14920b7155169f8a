"""How methods become stages: what they share through the cache, checked on the plan alone."""

from __future__ import annotations

import json

import pytest
import yaml

from harness import Head, Trainer
from harness.errors import PluginError
from harness.graph import StageSpec
from harness.schemas import Suite
from harness.planner import plan
from harness.plugins import registry

RM = {"name": "reward_model", "params": {"ratio": 0.5}}
TWO = {"name": "two_stage", "params": {"stage2": {"epochs": 1}}}
METHODS = [
    {"name": "naive"},
    {"name": "rm-two-stage", "selector": RM, "trainer": TWO},
    {"name": "rm-only", "selector": RM},
    {"name": "random-two-stage", "selector": {"name": "random"}, "trainer": TWO},
    # Half an epoch over every label: rm-two-stage's one epoch over half of them.
    {"name": "epoch-matched", "trainer": {"name": "two_stage",
                                          "params": {"stage2": {"epochs": 0.5}}}},
    {"name": "confidence", "selector": {"name": "confidence"}},
    {"name": "boot", "trainer": {"name": "self_bootstrap",
                                 "params": {"rounds": 2, "temperature": 0.7}}},
    # Its control: every weak label, as many steps as the two rounds (3 epochs each) add.
    {"name": "boot-matched", "trainer": {"name": "two_stage",
                                         "params": {"stage2": {"epochs": 6}}}},
]


def _suite(methods=METHODS, **extra) -> Suite:
    return Suite.model_validate({
        "name": "plan", "weak": "tiny-weak", "strong": "tiny-strong", "seeds": [0],
        "capabilities": [{"name": "synth_scan"}, {"name": "synth_arith"}],
        "methods": methods, "train": {"name": "sft", "params": {"epochs": 3, "lr": 1e-3}},
        **extra,
    })


def _plan(tmp_path, suite=None):
    return plan(suite or _suite(), registry(), "hf")[1]


def _model_of(graph, method):
    """The train stage whose model a method's evaluation decodes."""
    (w2s,) = {e.w2s for e in graph.evals if e.method == method}
    decode = graph.stages[graph.stages[w2s].inputs["completions"]]
    return graph.stages[decode.inputs["model"]]


def _chain(graph, stage):
    """A method's training runs, first to last: each starts from, or relabels with, the last."""
    chain = [stage]
    while True:
        inputs = chain[0].inputs
        if "base" in inputs:
            chain.insert(0, graph.stages[inputs["base"]])
        elif "self" in inputs:
            chain.insert(0, graph.stages[graph.stages[inputs["self"]].inputs["model"]])
        else:
            return chain


def test_two_stage_and_bootstrap_start_from_the_naive_model_trained_once(tmp_path):
    plan = _plan(tmp_path)
    naive = _model_of(plan, "naive")
    for method, length in (("rm-two-stage", 2), ("random-two-stage", 2), ("epoch-matched", 2),
                           ("boot-matched", 2), ("boot", 3)):
        chain = _chain(plan, _model_of(plan, method))
        assert len(chain) == length and chain[0] is naive, method
    # The reward model's strong answers come from the naive model too.
    (student,) = [s for s in plan.stages.values() if s.label.startswith("answer student")]
    assert student.inputs["model"] == naive.id
    # Methods with the same selector share one selection (one reward model).
    sel = {m: _model_of(plan, m).inputs["selected"] for m in ("rm-two-stage", "rm-only")}
    assert sel["rm-two-stage"] == sel["rm-only"]
    # Epoch-matched trains its second stage on every weak label: naive's own data.
    assert _model_of(plan, "epoch-matched").inputs["selected"] == naive.inputs["selected"]
    # Stage 2 layers its params over the suite's train params.
    params = _model_of(plan, "rm-two-stage").params.trainer.params
    assert params["epochs"] == 1 and params["lr"] == 1e-3
    # boot-matched adds its second stage, the format-only control its own; everything else is
    # shared as before
    assert sum(s.kind == "train" for s in plan.stages.values()) == 2 + 1 + 4 + 1 + 2 + 1 + 1


def test_bootstrap_rounds_relabel_with_the_previous_model(tmp_path):
    plan = _plan(tmp_path)
    chain = _chain(plan, _model_of(plan, "boot"))
    for before, after in zip(chain, chain[1:]):
        relabel = plan.stages[after.inputs["self"]]
        assert relabel.inputs["model"] == before.id and relabel.params.split == "unlabeled"
        assert all(d["temperature"] == 0.7 for d in relabel.params.decode.values())
    # restart (the default): every round trains the base model afresh
    assert all(s.params.base == chain[0].params.base and "base" not in s.inputs
               for s in chain)


def test_transfer_evaluates_single_models_on_every_capability(tmp_path):
    plan = _plan(tmp_path, _suite(METHODS[:1], mixtures=["single"], transfer=True))
    assert sorted((t.trained_on, t.evaluated_on) for t in plan.transfer) == [
        (t, e) for t in ("synth_arith", "synth_scan") for e in ("synth_arith", "synth_scan")]


@pytest.mark.parametrize("trainer,match", [
    ({"name": "two_stage", "params": {"stage2": {"epochz": 1}}}, "epochz"),
    ({"name": "two_stage", "params": {"trainer": "self_bootstrap"}}, "steps of its own"),
    ({"name": "two_stage", "params": {"trainer": "nope"}}, "nope"),
])
def test_bad_step_trainers_fail_before_any_compute(trainer, match, tmp_path):
    with pytest.raises(PluginError, match=match):
        plan(_suite([{"name": "m", "trainer": trainer}]), registry(), "hf")


@pytest.mark.parametrize("name", sorted(registry().entries["trainers"]))
def test_trainer_contract(name):
    cls = registry().get("trainers", name).cls
    trainer = cls()
    assert trainer.steps(), "a trainer has at least one step"
    single = cls.train is not Trainer.train
    if issubclass(cls, Head):  # a read-out of the strong model's features: no train()
        assert cls.fit_predict is not Head.fit_predict, "a Head implements fit_predict"
    else:
        assert single or cls.steps is not Trainer.steps, "implement train or steps"
    assert cls(json.loads(trainer.params.model_dump_json())).params == trainer.params


def test_the_suites_name_every_method_of_the_paper(tmp_path):
    from harness.runs import PROJECT_ROOT

    from harness.controls import roles

    for name, extra in (("multi-capability", {"confidence"}), ("science", set())):
        data = yaml.safe_load((PROJECT_ROOT / "leaderboard" / "suites" / f"{name}.yaml")
                              .read_text())
        suite = Suite.model_validate(data)
        selectors = {m.selector.name for m in suite.methods}
        trainers = {suite.method_trainer(m).name for m in suite.methods}
        assert {"all", "random", "reward_model", "consistency", *extra} <= selectors
        assert {"sft", "two_stage", "self_bootstrap"} <= trainers
        # Every role the paper's findings compare is there.
        assert set(roles(suite)) == {"naive", "rm-two-stage", "random-two-stage",
                                     "all-again", "self-bootstrap"}


def test_the_untuned_base_model_answers_after_seeded_solved_examples(tmp_path):
    from harness.runners import shots

    methods = [{"name": "cons", "selector": {"name": "consistency", "params": {"strong": "base"}}}]
    graph = _plan(tmp_path, _suite(methods))
    (base,) = [s for s in graph.stages.values() if s.label.startswith("answer strong base")]
    assert (base.params.shots, base.params.shot_seed) == (3, 0)
    # Shots go only to the untuned models: the selector's base answers and the test-split
    # baselines at each of baseline_shots (0 and 3 by default).
    shown = {s.label.split(" [")[0] for s in graph.stages.values()
             if s.kind == "decode" and s.params.shots}
    assert shown == {"answer strong base", "eval strong base 3-shot", "eval weak base 3-shot"}
    zero = _plan(tmp_path, _suite(methods, base_shots=0, baseline_shots=[0]))
    assert not any(getattr(s.params, "shots", 0) for s in zero.stages.values())
    rows = registry().make("capabilities", "synth_scan").load(0).labeled
    head = shots(rows, 3, "0:synth_scan")
    assert head == shots(rows, 3, "0:synth_scan") != shots(rows, 3, "1:synth_scan")
    assert head.count("\n\n") == 3 and sum(head.count(r.prompt + r.target) for r in rows) == 3
    assert shots(rows, 0, "0:synth_scan") == ""


def test_every_stage_kind_has_a_params_model_that_gives_back_exactly_what_was_planned():
    """Runners, sizing and preflight read typed fields; a spec's params (so its key) are what
    the planner wrote, field for field, and a field the kind does not take fails at planning."""
    from pydantic import ValidationError

    from harness.runners import KINDS, TrainParams, params_of

    simulated = {"name": "simulated", "selector": {"name": "all"},
                 "supervisor": {"name": "simulated", "params": {"q": 0.6}}}
    _, graph = plan(_suite(methods=[*METHODS, simulated]), registry(), "hf")
    # A head student and a probe selector (features, head), on a capability with a label set.
    probes = [{"name": "probe", "trainer": {"name": "probe"}},
              {"name": "relabel", "selector": {"name": "probe_relabel"}}]
    _, heads = plan(_suite(methods=probes, capabilities=[{"name": "fact_city"}]), registry(),
                    "hf")
    kinds = set()
    for spec in [*graph.stages.values(), *heads.stages.values()]:
        assert params_of(spec) is spec.params, spec.label
        assert type(spec.params) is KINDS[spec.kind].params, spec.label
        again = StageSpec.model_validate_json(spec.model_dump_json())
        assert again.params == spec.params and again.id == spec.id, spec.label
        kinds.add(spec.kind)
    assert kinds == set(KINDS)
    trainer = {"name": "sft", "version": 1, "params": {}}
    # Unset fields stay out: a default added to a model must not move every existing key.
    selected = {"trainer": trainer, "seed": 0, "examples": "selected", "trust_remote_code": False}
    assert TrainParams.model_validate(selected).spec_params() == selected
    with pytest.raises(ValidationError, match="ratio"):
        TrainParams.model_validate({"trainer": trainer, "seed": 0, "examples": "gold",
                                    "ratio": 0.5})
    with pytest.raises(ValidationError, match="examples"):
        TrainParams.model_validate({"trainer": trainer, "seed": 0, "examples": "weak"})
