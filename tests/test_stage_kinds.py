"""A stage kind is one object (``runners.StageKind``): a toy kind registered here, in one
place, is planned, run and sized like the built-in kinds, with no other module edited."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import fake_suite
from harness import outputs, runners
from harness.executors import LocalExecutor
from harness.graph import PARAMS, StageParams, StageSpec, Untyped
from harness.planner import plan
from harness.plugins import registry
from harness.registry import Registry
from harness.runners import StageKind
from harness.scheduler import run_graph
from harness.schemas import Suite
from harness.sizing import Machine, Sizer
from harness.store import Store


class CountParams(StageParams):
    kind = "count"
    split: str
    times: int


def count(spec: StageSpec, inputs: dict[str, Path], out: Path, plugins: Registry) -> None:
    """Writes how many rows a split has, times ``times``, and the process it ran in."""
    p = CountParams.of(spec)
    rows = outputs.rows(inputs["data"], p.split)
    (out / "count.txt").write_text(f"{len(rows) * p.times} {os.getpid()}")


@pytest.fixture
def count_kind():
    kind = runners.register(StageKind(CountParams, count, revision=3, here=True))
    yield kind
    del runners.KINDS["count"], PARAMS["count"]


def test_a_kind_declared_once_is_planned_run_and_sized(count_kind, tmp_path):
    planner, graph = plan(Suite.from_file(fake_suite(tmp_path)), registry(), "fake")
    data = next(n for n, s in graph.stages.items() if s.kind == "data")
    node = planner._add("count", "count test rows", {"split": "test", "times": 2},
                        {"data": data}, digest="")
    spec = graph.stages[node]
    # Planned: its params checked against its model and carried typed, its revision in the key
    # (not the id).
    assert spec.revision == 3 and CountParams.of(spec) is spec.params
    assert spec.params.times == 2 and StageSpec.model_validate_json(spec.model_dump_json()) == spec
    with pytest.raises(ValueError, match="times"):
        planner._add("count", "bad", {"split": "test"}, {"data": data}, digest="")
    assert spec.key({"data": "d"}) != spec.model_copy(update={"revision": 1}).key({"data": "d"})
    assert spec.id == spec.model_copy(update={"revision": 1}).id
    # Run: by the scheduler, in this process (``here``), its output cached like any stage's.
    store = Store(tmp_path / "home")
    done = run_graph(LocalExecutor(), graph, store, set(), tmp_path / "logs", only=[data, node])
    text = (Path(done[node].entry) / "count.txt").read_text().split()
    assert text == [str(2 * 60), str(os.getpid())]
    # Sized: as its kind says (``none``: a CPU stage, no estimate).
    est = Sizer(graph, {}, Machine(gpus=1, gpu_memory=80), registry()).estimate(node)
    assert (est.kind, est.launch, est.gpus, est.hours) == ("count", "cpu", 0, 0.0)


def test_a_kind_name_is_registered_once_and_suites_name_known_kinds(count_kind, tmp_path):
    with pytest.raises(ValueError, match="already registered"):
        runners.register(StageKind(CountParams, count))
    suite = Suite.from_file(fake_suite(tmp_path)).model_copy(
        update={"resources": {"trian": {"gpus": 2}}})
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="unknown stage kind 'trian'; the kinds are data, "):
        plan(suite, registry(), "fake")


def test_params_read_back_are_typed_by_kind_and_checked_strictly_when_run(count_kind):
    """A spec read from JSON gets its kind's model; params no registered model takes (another
    version's record, an uninstalled kind) still load, as given, and ``of`` refuses them."""
    spec = StageSpec(kind="count", label="c", params={"split": "test", "times": 2})
    assert type(spec.params) is CountParams
    for kind, params in (("count", {"split": "test"}), ("uninstalled", {"anything": [1]})):
        old = StageSpec.model_validate_json(
            f'{{"kind": "{kind}", "label": "old", "params": {json.dumps(params)}}}')
        assert type(old.params) is Untyped and old.params.spec_params() == params
        assert json.loads(old.model_dump_json())["params"] == params
    with pytest.raises(ValueError, match="times"):
        CountParams.of(old.model_copy(update={"kind": "count",
                                              "params": Untyped(split="test")}))
    with pytest.raises(TypeError, match="not CountParams"):
        CountParams.of(StageSpec(kind="data", label="d", params={"capability": {"name": "x"},
                                                                  "seed": 0}))
