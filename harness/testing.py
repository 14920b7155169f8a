"""The plugin contract kit: the checks every plugin must pass, for any
installed plugin, as ``harness check NAME...`` or in a plugin author's own CI as a pytest plugin
(this distribution registers it under ``pytest11``)::

    pytest --harness-check my_capability,my_selector

Capabilities: params round-trip; seeded determinism; disjoint, group-aware splits; every gold
target scores 1; empty and junk completions score 0 without raising; ``answer_of`` never reads
gold; targets survive the stop strings and fit the decode budget. Selectors: a selection is a subset of the pool's ids
without duplicates; the same seed selects the same; and a selector that opens the cache's data
entries (where gold lives) is caught doing it (``harness.guard``). Trainers: well-formed
``steps()``. Backends: greedy outputs equal to the ``hf`` backend's on a tiny model.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Callable, NamedTuple

from harness.bases import KINDS, Backend, Capability, Plugin, Row, SelectContext, Selector, Step, \
    Trainer, WeakItem

JUNK = ["", "   ", "\n", "@@@ ###", "zq"]


class Finding(NamedTuple):
    plugin: str
    check: str
    problem: str | None
    """None: it passed; else what failed."""


def _run(plugin: str, check: str, fn: Callable[[], str | None]) -> Finding:
    try:
        return Finding(plugin, check, fn())
    except Exception as exc:  # a contract check reports, it does not crash the kit
        return Finding(plugin, check, f"raised {type(exc).__name__}: {exc}".splitlines()[0])


# ---------------------------------------------------------------- capabilities

def capability_checks(cap: Capability, source: str | None) -> list[tuple[str, Callable]]:
    """(check, function returning a problem or None) for one capability."""
    checks: list[tuple[str, Callable]] = [("params round-trip", lambda: _round_trip(cap))]
    splits = {}

    def load():
        splits["a"] = cap.load(0, source)
        splits["b"] = cap.load(0, source)
        names = splits["a"].names()
        if {k: [r.id for r in v] for k, v in names.items()} != \
                {k: [r.id for r in v] for k, v in splits["b"].names().items()}:
            return "two loads with seed 0 gave different splits"
        return None

    def rows() -> list[Row]:
        return [r for split in splits["a"].names().values() for r in split]

    checks += [
        ("seeded determinism", load),
        ("disjoint, group-aware splits", lambda: _disjoint(cap, splits["a"].names())),
        ("gold scores 1", lambda: _gold(cap, rows())),
        ("empty and junk score 0", lambda: _junk(cap, rows())),
        ("answer_of never reads gold", lambda: _blind(cap, rows())),
        ("targets survive the stop strings and fit the decode budget",
         lambda: _stops(cap, rows())),
    ]
    return checks


def _round_trip(plugin: Plugin) -> str | None:
    again = type(plugin.params)(**plugin.params.model_dump())
    return None if again == plugin.params else "Params(**params.model_dump()) differs"


def _disjoint(cap: Capability, names: dict[str, list[Row]]) -> str | None:
    seen: dict[str, str] = {}
    groups: dict[str, str] = {}
    for split, rows in names.items():
        for r in rows:
            if seen.setdefault(r.id, split) != split:
                return f"row {r.id} is in {seen[r.id]} and {split}"
            g = cap.group_of(r)
            if groups.setdefault(g, split) != split:
                return f"group {g!r} spans {groups[g]} and {split}"
    return None


def _gold(cap: Capability, rows: list[Row]) -> str | None:
    bad = [r.id for r in rows[:500] if cap.score(r, r.target) != 1.0]
    return f"{len(bad)} gold targets do not score 1 (e.g. {bad[0]})" if bad else None


def _junk(cap: Capability, rows: list[Row]) -> str | None:
    for r in rows[:100]:
        for text in JUNK:
            if cap.score(r, text) != 0.0:
                return f"{text!r} scores {cap.score(r, text)} on {r.id}"
    return None


def _blind(cap: Capability, rows: list[Row]) -> str | None:
    for r in rows[:200]:
        hidden = r.model_copy(update={"answer": "\x00", "target": "\x00", "explanation": None,
                                      "meta": {}})
        if cap.answer_of(hidden, r.target) != cap.answer_of(r, r.target):
            return f"answer_of changes when {r.id}'s gold fields are hidden: it reads them"
    return None


def _stops(cap: Capability, rows: list[Row]) -> str | None:
    """The preflight a run makes, with the planner's estimate of 4 characters a token where a
    run counts with the models' own tokenizers."""
    from harness.preflight import problems
    from harness.sizing import CHARS_PER_TOKEN, chars_as_tokens

    found = problems(cap, type(cap).decode, [r.target for r in rows], chars_as_tokens,
                     f"an estimate of {CHARS_PER_TOKEN} characters a token")
    return found[0] if found else None


# ---------------------------------------------------------------- selectors

def _pool(n: int = 200) -> tuple[list[WeakItem], dict[str, bool]]:
    """A pool whose weak labels are half right, with signals that carry no information."""
    rng = random.Random(0)
    pool, right = [], {}
    for i in range(n):
        right[f"kit-{i}"] = rng.random() < 0.5
        pool.append(WeakItem(id=f"kit-{i}", capability="kit", prompt=f"q{i}:",
                             label=f" a{i}", weak_logprob=-rng.random(),
                             strong_answer=f" a{i}" if rng.random() < 0.5 else " b",
                             agree=rng.random() < 0.5))
    return pool, right


def selector_checks(sel: Selector) -> list[tuple[str, Callable]]:
    from harness import outputs
    from harness.faults import checked_selection
    from harness.guard import no_gold
    from harness.plugins import registry
    from harness.tinymodels import resolve

    pool, right = _pool()
    home = Path(tempfile.mkdtemp(prefix="harness-check-"))
    data = home / "cache" / "data" / "kit"
    data.mkdir(parents=True)
    outputs.write_rows(data, "unlabeled", [
        Row(id=i.id, prompt=i.prompt, target=i.label if right[i.id] else " gold",
            answer="gold") for i in pool])
    strong = resolve("tiny-strong") if type(sel).gpus else ""

    def select(seed: int) -> list[str]:
        work = home / "cache" / "select" / f".tmp-kit-{seed}-{random.random()}"
        work.mkdir(parents=True)
        ctx = SelectContext(seed=seed, strong_model=strong, weak_model="",
                            backend=registry().make("backends", "hf"), work_dir=work)
        with no_gold(home / "cache" / "data"):
            chosen = sel.select([i.model_copy() for i in pool], ctx)
        return [i.id for i in checked_selection(sel, "harness check", pool, chosen)]

    return [
        ("a subset of the pool, no duplicates, not empty", lambda: (select(0), None)[1]),
        ("deterministic for a seed",
         lambda: None if select(0) == select(0) else "two runs with seed 0 differ"),
        ("never reads gold", lambda: (select(1), None)[1]),
    ]


# ---------------------------------------------------------------- trainers and backends

def trainer_checks(trainer: Trainer) -> list[tuple[str, Callable]]:
    def steps() -> str | None:
        from harness.plugins import registry

        got = trainer.steps()
        if not got or not all(isinstance(s, Step) for s in got):
            return "steps() must return at least one harness.Step"
        if got[0].data == "self":
            return "the first step cannot train on the model's own answers ('self')"
        for s in got:
            if s.trainer is not None and s.trainer not in registry().entries["trainers"]:
                return f"a step names trainer {s.trainer!r}, which is not installed"
        return None

    return [("params round-trip", lambda: _round_trip(trainer)), ("well-formed steps", steps)]


def backend_checks(backend: Backend) -> list[tuple[str, Callable]]:
    """Greedy outputs equal to the ``hf`` backend's on a tiny model's prompts."""
    def parity() -> str | None:
        from harness.bases import DecodeConfig
        from harness.plugins import registry
        from harness.tinymodels import resolve

        reg = registry()
        cap = reg.make("capabilities", "synth_scan", {"labeled": 8, "unlabeled": 8, "test": 16})
        prompts = [r.prompt for r in cap.load(0).test]
        model, decode = resolve("tiny-strong"), DecodeConfig(max_new_tokens=16)
        mine = [g.text for g in backend.complete(model, prompts, decode)]
        ref = [g.text for g in reg.make("backends", "hf").complete(model, prompts, decode)]
        differ = [(p, a, b) for p, a, b in zip(prompts, mine, ref) if a != b]
        return f"{len(differ)} of {len(prompts)} greedy outputs differ from hf's, e.g. " \
               f"{differ[0][1]!r} vs {differ[0][2]!r}" if differ else None

    return [("params round-trip", lambda: _round_trip(backend)),
            ("greedy parity with hf", parity)]


# ---------------------------------------------------------------- running

def checks_for(names: list[str], source: str | None = None) -> list[tuple[str, str, Callable]]:
    """(plugin, check, function) for each named plugin (of any kind)."""
    from harness.errors import HarnessError
    from harness.plugins import registry

    reg = registry()
    out = []
    for name in names:
        kind = next((k for k in KINDS if name in reg.entries[k]), None)
        if kind is None:
            raise HarnessError(f"no plugin named {name!r} is installed (see `harness list`)")
        plugin = reg.make(kind, name)
        checks = {"capabilities": lambda: capability_checks(plugin, source),  # type: ignore
                  "selectors": lambda: selector_checks(plugin),  # type: ignore
                  "trainers": lambda: trainer_checks(plugin),  # type: ignore
                  "backends": lambda: backend_checks(plugin)}[kind]()  # type: ignore
        out += [(name, c, f) for c, f in checks]
    return out


def check(names: list[str], source: str | None = None) -> list[Finding]:
    return [_run(p, c, f) for p, c, f in checks_for(names, source)]


# ---------------------------------------------------------------- the pytest plugin

def pytest_addoption(parser):
    parser.addoption("--harness-check", default="", metavar="NAMES",
                     help="run w2s-harness's plugin contract checks on these comma-separated "
                          "capabilities and selectors")


def pytest_collection_modifyitems(session, config, items):
    names = [n.strip() for n in config.getoption("--harness-check").split(",") if n.strip()]
    if not names:
        return
    item = _item_class()
    for plugin, check_name, fn in checks_for(names):
        items.append(item.from_parent(session, name=f"{plugin}: {check_name}", fn=fn))


def _item_class():
    """A pytest item per contract check (pytest imported only when pytest runs this)."""
    import pytest

    class ContractItem(pytest.Item):
        def __init__(self, *, fn, **kwargs):
            super().__init__(**kwargs)
            self.fn = fn

        def runtest(self):
            problem = self.fn()
            if problem:
                raise AssertionError(problem)

        def reportinfo(self):
            return "harness-check", 0, self.name

    return ContractItem
