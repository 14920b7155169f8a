"""The plugin contract kit: the checks every capability and selector must pass, for any
installed plugin, as ``harness check NAME...`` or in a plugin author's own CI as a pytest plugin
(this distribution registers it under ``pytest11``)::

    pytest --harness-check my_capability,my_selector

Capabilities: params round-trip; seeded determinism; disjoint, group-aware splits; every gold
target scores 1; empty and junk completions score 0 without raising; ``answer_of`` never reads
gold; targets survive the stop strings. Selectors: a selection is a subset of the pool's ids
without duplicates; the same seed selects the same; and a selector that opens the cache's data
entries (where gold lives) is caught doing it (``harness.guard``).
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Callable, NamedTuple

from harness.bases import Capability, Row, SelectContext, Selector, WeakItem

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
        ("targets survive the stop strings", lambda: _stops(cap, rows())),
    ]
    return checks


def _round_trip(cap: Capability) -> str | None:
    again = type(cap.params)(**cap.params.model_dump())
    return None if again == cap.params else "Params(**params.model_dump()) differs"


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
    from harness.preflight import problems

    found = problems(cap, type(cap).decode, [r.target for r in rows], None, "")
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
    from harness.guard import no_gold
    from harness.plugins import registry
    from harness.runners import checked_selection
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
        spec = type("Spec", (), {"label": "check"})()
        return [i.id for i in checked_selection(sel, spec, pool, chosen)]  # type: ignore

    return [
        ("a subset of the pool, no duplicates, not empty", lambda: (select(0), None)[1]),
        ("deterministic for a seed",
         lambda: None if select(0) == select(0) else "two runs with seed 0 differ"),
        ("never reads gold", lambda: (select(1), None)[1]),
    ]


# ---------------------------------------------------------------- running

def checks_for(names: list[str], source: str | None = None) -> list[tuple[str, str, Callable]]:
    """(plugin, check, function) for each named capability or selector."""
    from harness.errors import HarnessError
    from harness.plugins import registry

    reg = registry()
    out = []
    for name in names:
        if name in reg.entries["capabilities"]:
            cap = reg.make("capabilities", name)
            out += [(name, c, f) for c, f in capability_checks(cap, source)]  # type: ignore
        elif name in reg.entries["selectors"]:
            out += [(name, c, f) for c, f in selector_checks(reg.make("selectors", name))]  # type: ignore
        else:
            raise HarnessError(f"no capability or selector named {name!r} is installed "
                               "(see `harness list`)")
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
