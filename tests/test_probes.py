"""The field's W2S students and selectors (issue 47), on constructed inputs: the probe's
choices never follow gold, the confidence loss is the hand-computed one, and the probe
selectors relabel and filter a constructed pool as they should. Each guarantee is shown
failing on a deliberately broken version."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from harness import Features, SelectContext, WeakItem
from harness import outputs
from harness.errors import HarnessError
from harness.faults import PluginFault, checked_selection
from harness.graph import StageSpec
from harness.plugins import registry
from harness.rows import Row
from harness.runners import HeadParams, head

CITIES = ["oslo", "lima", "rome", "kyiv"]


def _world(n: int = 400, q: float = 0.5, seed: int = 0):
    """Items of 4 classes whose features carry the class at layer 2 (layer 3: noise only),
    and weak labels right with probability ``q``, else another class at random."""
    rng = np.random.default_rng(seed)
    truth = [CITIES[i % 4] for i in range(n)]
    signal = np.eye(4)[[CITIES.index(t) for t in truth]] * 3.0
    layers = {2: np.hstack([signal, np.zeros((n, 4))]) + rng.normal(size=(n, 8)),
              3: rng.normal(size=(n, 8))}
    draw = random.Random(seed)
    weak = [t if draw.random() < q else draw.choice([c for c in CITIES if c != t])
            for t in truth]
    return truth, layers, weak


def _head_stage(tmp: Path, gold_garbage: bool, examples: str = "selected"):
    """The head runner on a constructed world: 300 unlabeled items, 100 test; returns its
    completions and choices. With ``gold_garbage`` every unlabeled and test row's gold is
    replaced by nonsense (what a probe that never reads gold cannot notice)."""
    truth, layers, weak = _world()
    ids = [f"city-{i}" for i in range(len(truth))]

    def row(i: int, bad: bool) -> Row:
        answer = "xx" if bad else truth[i]
        return Row(id=ids[i], capability="fact_city", prompt=f"q: where does p{i} live? a:",
                   target=f" {answer}", answer=answer)

    data = tmp / "data"
    data.mkdir(parents=True)
    outputs.write_rows(data, "labeled", [Row(id=f"shot-{c}", prompt="q:", target=f" {c}",
                                             answer=c) for c in CITIES])
    outputs.write_rows(data, "unlabeled", [row(i, gold_garbage) for i in range(300)])
    outputs.write_rows(data, "test", [row(i, gold_garbage) for i in range(300, 400)])
    inputs = {"data:fact_city": data}
    for split, part in (("unlabeled", slice(0, 300)), ("test", slice(300, 400))):
        entry = tmp / f"features-{split}"
        entry.mkdir()
        outputs.write_features(entry, Features(ids=ids[part], layers={
            n: v[part] for n, v in layers.items()}))
        inputs[f"features:fact_city:{split}"] = entry
    selected = tmp / "selected"
    selected.mkdir()
    outputs.write_selection(selected, [
        WeakItem(id=ids[i], capability="fact_city", prompt=f"q: where does p{i} live? a:",
                 label=f" {weak[i]}") for i in range(300)], {})
    inputs["selected"] = selected
    reg = registry()
    probe = reg.make("trainers", "probe", {"layers": [2, 3], "C": [0.01, 0.1, 1.0]})
    cap = reg.make("capabilities", "fact_city")
    params = HeadParams(trainer={"name": "probe", "params": probe.params.model_dump()}, seed=0,
                        split="test", examples=examples,
                        capabilities={"fact_city": {"name": "fact_city",
                                                    "version": cap.version,
                                                    "params": cap.params.model_dump()}})
    out = tmp / "out"
    out.mkdir()
    head(StageSpec(kind="head", label="head test", params=params, inputs={}, code=""),
         inputs, out, reg)
    said = [c.completion.strip() for c in outputs.completions(out)]
    return said, outputs.choices(out), truth[300:]


def test_the_probe_never_reads_gold_and_beats_its_labels(tmp_path):
    said, chose, truth = _head_stage(tmp_path / "real", gold_garbage=False)
    blind, chose_blind, _ = _head_stage(tmp_path / "garbage", gold_garbage=True)
    assert (said, chose) == (blind, chose_blind)
    assert chose["fact_city"]["layer"] == 2  # the layer that carries the class, by weak labels
    right = np.mean([a == t for a, t in zip(said, truth)])
    labels = np.mean([w == t for w, t in zip(_world()[2][300:], truth)])
    assert right > labels + 0.2  # the probe beats its labels on the test items
    # The same comparison catches a head that is fed gold: its choices follow it.
    fed, chose_fed, _ = _head_stage(tmp_path / "fed", gold_garbage=False, examples="gold")
    fed_blind, chose_fed_blind, _ = _head_stage(tmp_path / "fed-garbage", gold_garbage=True,
                                                examples="gold")
    assert (fed, chose_fed) != (fed_blind, chose_fed_blind)


def test_a_head_on_a_capability_without_a_label_set_is_refused_at_planning(tmp_path):
    from harness.planner import Planner
    from harness.schemas import Suite

    suite = Suite.model_validate({
        "name": "s", "strong": "tiny-strong", "weak": "tiny-weak", "backend": "hf",
        "capabilities": [{"name": "synth_arith", "params": {"labeled": 4, "unlabeled": 4,
                                                            "test": 4}}],
        "methods": [{"name": "p", "trainer": {"name": "probe"}}],
        "train": {"name": "sft"}})
    with pytest.raises(HarnessError, match="synth_arith has no label set"):
        Planner(suite, registry(), "hf")


# ---------------------------------------------------------------- the confidence loss

class _Table:
    """A 'model' whose next-token logits depend on the current token only (a lookup table):
    small enough to compute its loss by hand."""

    def __init__(self, vocab: int, seed: int = 0) -> None:
        import torch

        self.table = torch.randn(vocab, vocab, generator=torch.Generator().manual_seed(seed))

    def __call__(self, input_ids, attention_mask):
        class Out:
            logits = self.table[input_ids]
        return Out()


def _hand(table: np.ndarray, rows: list[tuple[list[int], list[int]]], weak: list[int],
          k: int, coef: float) -> float:
    """The loss by hand: for each example, every answer's token log-likelihoods after its
    prompt; the own answer is the one with the largest sum; the mix of the two answers' mean
    token negative log-likelihoods."""
    def nll(ids: list[int], labels: list[int]) -> list[float]:
        out = []
        for t in range(len(ids) - 1):
            if labels[t + 1] != -100:
                logits = table[ids[t]]
                logp = logits - np.log(np.exp(logits).sum())
                out.append(-logp[ids[t + 1]])
        return out

    total = 0.0
    for i, w in enumerate(weak):
        per = [nll(*rows[i * k + a]) for a in range(k)]
        own = int(np.argmin([sum(p) for p in per]))
        total += (1 - coef) * np.mean(per[w]) + coef * np.mean(per[own])
    return total / len(weak)


def test_the_confidence_loss_equals_the_hand_computation():
    import torch

    from harness_plugins.trainers.confidence import confidence_loss, warmed

    vocab, k = 7, 3
    model = _Table(vocab)
    # two examples x three answers: prompt tokens masked (-100), answer tokens scored
    rows = [([1, 2, 3], [-100, -100, 3]), ([1, 2, 4, 5], [-100, -100, 4, 5]),
            ([1, 2, 6], [-100, -100, 6]),
            ([2, 1, 3], [-100, -100, 3]), ([2, 1, 4, 5], [-100, -100, 4, 5]),
            ([2, 1, 6], [-100, -100, 6])]
    width = 4
    ids = torch.tensor([r[0] + [0] * (width - len(r[0])) for r in rows])
    labels = torch.tensor([r[1] + [-100] * (width - len(r[1])) for r in rows])
    mask = torch.tensor([[1] * len(r[0]) + [0] * (width - len(r[0])) for r in rows])
    weak = [0, 2]
    inputs = {"input_ids": ids, "labels": labels, "attention_mask": mask,
              "weak": torch.tensor(weak)}
    table = model.table.numpy().astype(np.float64)
    for coef in (0.0, 0.3, 0.75):
        got = float(confidence_loss(model, inputs, coef))
        assert got == pytest.approx(_hand(table, rows, weak, k, coef), rel=1e-5)
    # A broken loss (the own answer taken as the least likely) differs from the hand figure.
    broken = _hand(-table, rows, weak, k, 0.75)
    assert float(confidence_loss(model, inputs, 0.75)) != pytest.approx(broken, rel=1e-5)
    assert [warmed(0.75, 0.2, f) for f in (0.0, 0.1, 0.2, 0.9)] == \
        pytest.approx([0.0, 0.375, 0.75, 0.75])


# ---------------------------------------------------------------- probe selectors

def _pool_ctx(tmp: Path) -> tuple[list[WeakItem], SelectContext, list[str]]:
    truth, layers, weak = _world(n=300, seed=1)
    ids = [f"i{n}" for n in range(len(truth))]
    pool = [WeakItem(id=i, capability="fact_city", prompt=f"q{n}", label=f" {w}", answer=w)
            for n, (i, w) in enumerate(zip(ids, weak))]
    ctx = SelectContext(seed=0, strong_model="", work_dir=tmp,
                        strong_features=Features(ids=ids, layers=layers))
    return pool, ctx, truth


def test_the_confidence_loss_refuses_more_targets_than_its_answer_set(tmp_path):
    """The auxiliary loss hardens over the training data's distinct targets: more than
    ``max_answers`` is refused with one line naming the trainer and the fix, before any model
    loads (the science suite's first start met it: 37 weak-label targets over 32)."""
    from harness.bases import TrainExample

    trainer = registry().make("trainers", "aux_confidence", {"max_answers": 2})
    data = [TrainExample(prompt=f"q{i}", target=f" a{i}") for i in range(3)]
    with pytest.raises(HarnessError, match=r"^aux_confidence: the training data has 3 distinct "
                                           r"targets, over max_answers 2; .*raise max_answers"):
        trainer.train("no-model-is-loaded", data, tmp_path, None)  # type: ignore[arg-type]
    two = [TrainExample(prompt=f"q{i}", target=f" a{i % 2}") for i in range(3)]
    with pytest.raises(Exception) as loaded:  # two targets pass the check and reach the model
        trainer.train("no-model-is-loaded", two, tmp_path, None)  # type: ignore[arg-type]
    assert "distinct targets" not in str(loaded.value)


def test_probe_filter_keeps_the_labels_its_cross_fitted_probe_agrees_with(tmp_path):
    from harness_plugins.selectors.probes import cross_fitted

    pool, ctx, truth = _pool_ctx(tmp_path)
    sel = registry().make("selectors", "probe_filter", {"layers": [2, 3]})
    kept = sel.select(pool, ctx)
    said = cross_fitted(sel.params, pool, ctx)
    assert [i.id for i in kept] == [i.id for i in pool if said[i.id] == i.answer]
    right = {i.id: t for i, t in zip(pool, truth)}
    before = np.mean([i.answer == right[i.id] for i in pool])
    after = np.mean([i.answer == right[i.id] for i in kept])
    assert after > before + 0.2  # a cleaner subset of the pool


def test_probe_relabel_moves_the_pools_own_labels_and_nothing_else(tmp_path):
    pool, ctx, truth = _pool_ctx(tmp_path)
    sel = registry().make("selectors", "probe_relabel", {"layers": [2, 3]})
    got = checked_selection(sel, "test", pool, sel.select([i.model_copy() for i in pool], ctx))
    right = {i.id: t for i, t in zip(pool, truth)}
    assert np.mean([i.label.strip() == right[i.id] for i in got]) > \
        np.mean([i.label.strip() == right[i.id] for i in pool]) + 0.2
    assert {i.label for i in got} <= {i.label for i in pool}
    assert all(i.answer == i.label.strip() for i in got)  # the answer follows the new label
    # A relabelling that writes a label the pool does not hold is refused.
    forged = [i.model_copy(update={"label": f" {right[i.id]}!"}) for i in pool]
    with pytest.raises(PluginFault, match="relabel only to the pool's own labels"):
        checked_selection(sel, "test", pool, forged)
    # A selector that does not relabel keeps the pool's labels whatever it returns.
    plain = registry().make("selectors", "probe_filter", {"layers": [2, 3]})
    kept = checked_selection(plain, "test", pool, [i.model_copy(update={"label": " rome"})
                                                   for i in pool])
    assert [i.label for i in kept] == [i.label for i in pool]


def test_the_field_plugins_are_listed_with_their_sources_and_pass_the_kit():
    from conftest import harness_cli

    listed = harness_cli("list", check=True).stdout.splitlines()
    for name, source in {"probe": "Burns et al.", "aux_confidence": "Burns et al.",
                         "probe_relabel": "EleutherAI/w2s",
                         "probe_filter": "EleutherAI/w2s"}.items():
        kind = "selectors" if name.startswith("probe_") else "trainers"
        line = next(x for x in listed if x.split()[:2] == [kind, name])
        assert source in line, line
    kit = harness_cli("check", "probe", "aux_confidence", "probe_relabel", "probe_filter")
    assert kit.returncode == 0, kit.stdout + kit.stderr
    assert "12 of 12 checks passed" in kit.stdout, kit.stdout
