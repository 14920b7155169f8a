"""Runs that would say something false are refused before compute, or told (issue 30):
an empty split, a split larger than its pool, a chance outside [0, 1], a prompt longer than the
model's context; rows dropped between pools are counted in the run's record and report; no
verdict on zero items; a leaderboard that refuses what it cannot render and builds without it.

Each test fails on the code before issue 30, which made the short split silently (130 rows
asked 600), dropped overlapping rows without a count, accepted chance 1.5, ran the long
prompt into the backend, printed "yes" over nan and failed the whole board on one entry."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import ROOT, harness_cli, plugin_site, record_of
from test_bad_input import _error_line

CAPS = '''
"""Capabilities built to be refused, or told about."""
from harness import Capability, DecodeConfig, Row, hookimpl


def rows(prefix, n, long=0):
    return [Row(id=f"{prefix}{i}", prompt=f"q {prefix} {i}" + " zz" * long * (i == 0) + " a:",
                target=" x", answer="x") for i in range(n)]


class Base(Capability):
    """A generated capability for the refusal tests."""

    version = 1
    generated = True
    chance = 0.5
    decode = DecodeConfig(max_new_tokens=4)
    extract = ["match"]


class Empty(Base):
    """Its own test pool is empty."""

    name = "cap_empty"

    def pools(self, source, seed):
        return {"train": rows("r", 50), "test": []}


class Shared(Base):
    """Train and test pools share 7 rows."""

    name = "cap_shared"

    def pools(self, source, seed):
        test = rows("t", 10)
        return {"train": rows("r", 40) + test[:7], "test": test}


class Long(Base):
    """One prompt of about 20,000 tokens."""

    name = "cap_long"

    def pools(self, source, seed):
        return {"train": rows("r", 30, long=10000)}


@hookimpl
def register_capabilities(register):
    for cls in (Empty, Shared, Long):
        register(cls)
'''

HEAD = """name: refuse
weak: {weak}
strong: {strong}
backend: fake
seeds: [0]
mixtures: [joint]
train: {{name: fake}}
baseline_shots: [0]
methods: [{{name: naive}}]
capabilities:
"""


def _run(tmp_path, caps: str, weak="fake-weak", strong="fake-strong"):
    site = plugin_site(tmp_path, "cap_plugins", CAPS, dist="cap-plugins")
    suite = tmp_path / "s.yaml"
    suite.write_text(HEAD.format(weak=weak, strong=strong) + caps)
    env = {"PYTHONPATH": str(site), "HARNESS_HOME": str(tmp_path / "home")}
    return harness_cli("run", "--suite", str(suite), "--in-process", env=env)


def test_an_empty_split_is_refused_before_any_model_runs(tmp_path):
    proc = _run(tmp_path, "  - {name: cap_empty, params: {labeled: 10, unlabeled: 10, test: 5}}\n")
    line = _error_line(proc)
    assert "cap_empty" in line and "test split has no rows" in line
    assert "train " not in proc.stderr  # no model stage started


def test_a_split_larger_than_its_pool_says_how_many_it_can_have(tmp_path):
    """fact_city's world has 300 people: 50 labeled and 120 test leave 130 unlabeled."""
    proc = _run(tmp_path, "  - {name: fact_city, params: {labeled: 50, unlabeled: 600, "
                          "test: 120}}\n")
    line = _error_line(proc)
    assert "fact_city: unlabeled asks for 600 rows, its pool gives 130" in line
    assert "`unlabeled: 130`" in line


def test_rows_shared_between_pools_are_counted_in_the_record_and_the_report(tmp_path):
    proc = _run(tmp_path, "  - {name: cap_shared, params: {labeled: 10, unlabeled: 20, "
                          "test: 10}}\n")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "0 repeated rows and 7 train rows that the test split holds" in proc.stderr
    run_dir = next((tmp_path / "home" / "runs").iterdir())
    manifest = record_of(run_dir)["manifest"]
    assert manifest["splits"]["cap_shared"]["overlap"] == 7
    assert manifest["splits"]["cap_shared"]["rows"] == {"labeled": 10, "unlabeled": 20, "test": 10}
    report = (run_dir / "report.md").read_text()
    assert "## Data: the splits of the first seed" in report
    (line,) = [x for x in report.splitlines() if x.startswith("cap_shared")]
    assert line.split()[-2:] == ["0", "7"]


@pytest.mark.slow  # builds a tiny model's skeleton: the full tier (CI)
def test_a_prompt_longer_than_the_context_names_the_item_and_both_lengths(tmp_path):
    """tiny-weak's config allows 4096 positions; its skeleton (config and tokenizer) is on
    disk in seconds, no weights needed."""
    proc = _run(tmp_path, "  - {name: cap_long, params: {labeled: 10, unlabeled: 10, "
                          "test: 10}}\n", weak="tiny-weak", strong="tiny-strong")
    proc.stderr = "\n".join(x for x in proc.stderr.splitlines()
                            if not x.startswith("building tiny model"))  # a skeleton, once
    line = _error_line(proc)
    assert "capability cap_long" in line and "'r0'" in line and "context of 4096" in line
    tokens = int(line.split(" is ")[1].split(" tokens")[0])
    assert tokens > 4096


def test_a_chance_outside_0_1_is_refused_at_registration(tmp_path):
    body = CAPS.replace("chance = 0.5", "chance = 1.5")
    site = plugin_site(tmp_path, "cap_plugins", body, dist="cap-plugins")
    proc = harness_cli("run", "--suite", "quickstart", "--dry-run",
                       env={"PYTHONPATH": str(site), "HARNESS_HOME": str(tmp_path / "h")})
    line = _error_line(proc)
    assert "declares chance 1.5" in line and "[0, 1]" in line


def test_the_kit_fails_a_capability_whose_defaults_exceed_its_pool():
    from harness.plugins import registry
    from harness.testing import capability_checks

    cap = registry().make("capabilities", "fact_city", {"unlabeled": 600})
    found = dict(capability_checks(cap, None))
    found["seeded determinism"]()
    assert "its pool gives 130" in found["the split sizes fit the pool"]()


def test_no_verdict_on_zero_items():
    from harness.report import Summary

    empty = Summary.model_construct(items_n=0, vs_weak=None, vs_base=None)
    assert empty.generalizes == "not measured: no test items"


@pytest.fixture
def board(tmp_path):
    root = tmp_path / "board"
    shutil.copytree(ROOT / "leaderboard" / "entries" / "quickstart", root / "entries" / "q")
    return root


def test_an_entry_that_cannot_render_is_refused_and_never_stops_the_board(board):
    from harness import leaderboard

    good = sorted((board / "entries" / "q").glob("*.json"))[-1]
    data = json.loads(good.read_text())
    for r in data["results"]:
        r["items"] = {}
    bad = good.with_name("bad.json")
    bad.write_text(json.dumps(data))
    (board / "entries" / "q" / "broken.json").write_text("{not json")
    entry = leaderboard.Entry.model_validate(data)
    assert "no test items" in leaderboard.unrenderable(entry)

    proc = harness_cli("leaderboard", "build", "--root", str(board))
    assert proc.returncode == 0, proc.stderr
    warned = [x for x in proc.stderr.splitlines() if x.startswith("warning:")]
    assert len(warned) == 2 and any("bad.json" in x and "no test items" in x for x in warned)
    assert json.loads((board / "leaderboard.json").read_text())  # the good entry is there
    assert data["manifest"]["run_id"] in (board / "README.md").read_text()
