"""The plugin contract kit: the checks every plugin must pass, for any
installed plugin, as ``harness check NAME...`` or in a plugin author's own CI as a pytest plugin
(this distribution registers it under ``pytest11``)::

    pytest --harness-check my_capability,my_selector --harness-data-dir ./data

Capabilities: params round-trip; the source is usable (``check_source``); seeded determinism,
in this process and in two fresh ones with other hash seeds; disjoint, group-aware splits;
every gold target scores 1; empty and junk completions score 0 without raising; ``answer_of``
never reads gold and ``score`` is ``answer_of == gold_of``, on probes that mix a row's target
with other rows' (``probes``); targets survive the stop strings and fit the decode budget.
Selectors: a selection is a subset of the pool's ids without duplicates; the selector never
edits the items it is given; the same seed selects the same, here and in two fresh processes
with other hash seeds; and a selector that opens the cache's data entries (where gold lives)
is caught doing it (``harness.guard``). Trainers: well-formed
``steps()``. Backends: greedy outputs equal to the ``hf`` backend's on a tiny model.
Supervisors that write their own labels: one string a row, rows left as given, the same
labels for a seed here and in two fresh processes.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Callable, NamedTuple

from harness.bases import KINDS, Backend, Capability, Features, Plugin, Row, SelectContext, \
    Selector, Splits, Step, Supervisor, Trainer, WeakItem

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
    checks: list[tuple[str, Callable]] = [("params round-trip", lambda: _round_trip(cap)),
                                          ("the source is usable", lambda: cap.check_source(source))]
    splits = {}

    def load():
        splits["a"] = cap.load(0, source)
        splits["b"] = cap.load(0, source)
        names = splits["a"].names()
        if {k: [r.id for r in v] for k, v in names.items()} != \
                {k: [r.id for r in v] for k, v in splits["b"].names().items()}:
            return "two loads with seed 0 gave different splits"
        return _across_processes("capabilities", cap, source,
                                 [r.id for split in names.values() for r in split])

    def rows() -> list[Row]:
        return [r for split in splits["a"].names().values() for r in split]

    checks += [
        ("seeded determinism", load),
        ("the split sizes fit the pool", lambda: _fits(cap, splits["a"])),
        ("disjoint, group-aware splits", lambda: _disjoint(cap, splits["a"].names())),
        ("gold scores 1", lambda: _gold(cap, rows())),
        ("empty and junk score 0", lambda: _junk(cap, rows())),
        ("answer_of never reads gold", lambda: _blind(cap, rows())),
        ("score is answer_of against gold_of", lambda: _consistent(cap, rows())),
        ("targets survive the stop strings and fit the decode budget",
         lambda: _stops(cap, rows())),
    ]
    return checks


def _round_trip(plugin: Plugin) -> str | None:
    again = type(plugin.params)(**plugin.params.model_dump())
    return None if again == plugin.params else "Params(**params.model_dump()) differs"


def _fits(cap: Capability, splits: Splits) -> str | None:
    """Every split as large as the params ask (a capability's defaults must fit its own
    pool), as a run's preflight requires."""
    from harness.outputs import SplitAccount

    return SplitAccount.of(splits, cap.params).problem(cap.name)


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


def probes(row: Row, others: list[Row]) -> list[str]:
    """Completions to read a row with: its target, other rows' targets, its target among
    other answers (before and after them), every answer at once, and junk. A capability that
    reads gold, or credits the gold wherever it appears, treats some of these differently."""
    theirs = [o.target for o in others if o.target != row.target][:3]
    return [row.target, *theirs, *(f"{row.target} {t}" for t in theirs),
            *(f"{t} {row.target}" for t in theirs), " ".join([*theirs, row.target, *theirs]),
            *(row.target + j for j in JUNK), *JUNK]


def _sample(rows: list[Row], n: int) -> list[tuple[Row, list[Row]]]:
    """Up to ``n`` rows, each with five others of its capability to mix into its probes."""
    picked = rows[:n]
    return [(r, picked[i + 1:i + 6] or picked[:5]) for i, r in enumerate(picked)]


def _blind(cap: Capability, rows: list[Row]) -> str | None:
    for r, others in _sample(rows, 200):
        hidden = r.model_copy(update={"answer": "\x00", "target": "\x00", "explanation": None,
                                      "meta": {}})
        for text in probes(r, others):
            if cap.answer_of(hidden, text) != cap.answer_of(r, text):
                return (f"answer_of({text!r}) changes when {r.id}'s gold fields are hidden: "
                        "it reads them")
    return None


def _consistent(cap: Capability, rows: list[Row]) -> str | None:
    """A completion scores 1 exactly when the answer it gives is the gold one, so a capability
    cannot credit a completion that hedges over many answers."""
    for r, others in _sample(rows, 200):
        gold = cap.gold_of(r)
        for text in probes(r, others):
            got = cap.answer_of(r, text)
            if cap.score(r, text) != float(got is not None and got == gold):
                return (f"score({text!r}) on {r.id} is {cap.score(r, text)}, but answer_of reads "
                        f"{got!r} and the gold is {gold!r}: score must be answer_of == gold_of")
    return None


def _stops(cap: Capability, rows: list[Row]) -> str | None:
    """The preflight a run makes, with the planner's estimate of 4 characters a token where a
    run counts with the models' own tokenizers."""
    from harness.preflight import problems
    from harness.tokens import CHARS_PER_TOKEN, chars_as_tokens

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


def selection(sel: Selector, seed: int) -> tuple[list[str], list[str]]:
    """The ids ``sel`` keeps of the kit's pool with ``seed``, and the ids of the items it
    edited in place; a selector that opens the gold data entries raises ``GoldLeak``."""
    with tempfile.TemporaryDirectory(prefix="harness-check-") as tmp:
        return _selection(sel, seed, Path(tmp))


def _selection(sel: Selector, seed: int, home: Path) -> tuple[list[str], list[str]]:
    """``selection`` with the kit's files under ``home`` (removed after)."""
    from harness import outputs
    from harness.faults import checked_selection, copies, edits
    from harness.guard import no_gold
    from harness.plugins import registry
    from harness.resolver import resolve

    pool, right = _pool()
    features = None
    if "strong_features" in sel.needs():  # a label set, and features that carry nothing
        import numpy as np

        pool = [i.model_copy(update={"label": f" c{n % 4}", "answer": f"c{n % 4}"})
                for n, i in enumerate(pool)]
        noise = np.random.default_rng(0).normal(size=(len(pool), 8))
        features = Features(ids=[i.id for i in pool], layers={n: noise for n in sel.layers()})
    data = home / "cache" / "data" / "kit"
    data.mkdir(parents=True)
    outputs.write_rows(data, "unlabeled", [
        Row(id=i.id, prompt=i.prompt, target=i.label if right[i.id] else " gold",
            answer="gold") for i in pool])
    work = home / "cache" / "select" / f".tmp-kit-{seed}"
    work.mkdir(parents=True)
    ctx = SelectContext(seed=seed, strong_model=resolve("tiny-strong") if type(sel).gpus else "",
                        weak_path=resolve("tiny-weak") if "weak_model" in sel.needs() else None,
                        strong_features=features,
                        backend=registry().make("backends", "hf"), work_dir=work)
    given = copies(pool)
    with no_gold(home / "cache" / "data"):
        chosen = sel.select(given, ctx)
    kept = [i.id for i in checked_selection(sel, "harness check", pool, chosen)]
    return kept, edits(pool, given, chosen, sel.relabels)


def selector_checks(sel: Selector) -> list[tuple[str, Callable]]:
    def untouched() -> str | None:
        edited = selection(sel, 0)[1]
        return (f"select() edited {len(edited)} of its pool's items, in place or in the "
                f"items it returned (e.g. {edited[0]!r}); a selector chooses items and never "
                "changes them (a relabelling one only moves the pool's own labels), and the "
                "harness trains on its own copy") if edited else None

    def deterministic() -> str | None:
        first = selection(sel, 0)[0]
        if first != selection(sel, 0)[0]:
            return "two runs with seed 0 differ"
        return _across_processes("selectors", sel, None, first)

    return [
        ("a subset of the pool, no duplicates, not empty", lambda: (selection(sel, 0), None)[1]),
        ("never edits its pool", untouched),
        ("deterministic for a seed, across processes", deterministic),
        ("never reads gold", lambda: (selection(sel, 1), None)[1]),
    ]


def fingerprint(kind: str, name: str, params: str, source: str | None) -> list[str]:
    """What a plugin decides with seed 0, as ids: a capability's splits, a selector's choice."""
    import json

    from harness.plugins import registry

    plugin = registry().make(kind, name, json.loads(params))
    if kind == "capabilities":
        return [r.id for split in plugin.load(0, source).names().values() for r in split]
    if kind == "supervisors":
        return supervision(plugin, 0)[1]
    return selection(plugin, 0)[0]


def _across_processes(kind: str, plugin: Plugin, source: str | None,
                      here: list[str]) -> str | None:
    """The same decision in two fresh processes with other hash seeds: a plugin that keys on
    ``hash()`` of a string, or on a set's order, decides differently in each."""
    import json
    import os
    import subprocess
    import sys

    code = ("import json, sys; from harness.testing import fingerprint; "
            "print(json.dumps(fingerprint(*sys.argv[1:4], sys.argv[4] or None)))")
    for seed in ("1", "2"):
        proc = subprocess.run(
            [sys.executable, "-c", code, kind, plugin.name, plugin.params.model_dump_json(),
             source or ""], capture_output=True, text=True,
            env={**os.environ, "PYTHONHASHSEED": seed})
        if proc.returncode:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            return f"a fresh process (PYTHONHASHSEED={seed}) failed: {tail}"
        there = json.loads(proc.stdout.strip().splitlines()[-1])
        if there != here:
            differ = sum(a != b for a, b in zip(here, there)) + abs(len(here) - len(there))
            return (f"a fresh process with PYTHONHASHSEED={seed} decides differently ({differ} "
                    "ids differ): do not key on hash() of strings or on set order; use a "
                    "seeded random.Random or hashlib")
    return None


# ---------------------------------------------------------------- supervisors

def supervision(sup: Supervisor, seed: int) -> tuple[list[Row], list[str]]:
    """A supervisor's labels of a generated capability's unlabeled split (``fact_city``: 8
    answer classes), given copies of its splits; those rows as they were after."""
    from harness.plugins import registry

    splits = {name: [r.model_copy(deep=True) for r in rows] for name, rows in
              registry().make("capabilities", "fact_city").load(0).names().items()}
    given = [r for rows in splits.values() for r in rows]
    return given, sup.label(registry().make("capabilities", "fact_city"), splits["unlabeled"],
                            splits, seed)


def supervisor_checks(sup: Supervisor) -> list[tuple[str, Callable]]:
    """A supervisor that writes its own labels: one string a row, rows untouched, the same
    labels for a seed in any process. A ``model`` supervisor's labels come from the pipeline."""
    def one_each() -> str | None:
        from harness.plugins import registry

        labels = supervision(sup, 0)[1]
        n = len(registry().make("capabilities", "fact_city").load(0).unlabeled)
        if not isinstance(labels, list) or len(labels) != n or \
                not all(isinstance(t, str) for t in labels):
            return (f"label() must return one string per row, in order: got "
                    f"{type(labels).__name__} of {len(labels)} for {n} rows")
        return None

    def untouched() -> str | None:
        from harness.plugins import registry

        splits = registry().make("capabilities", "fact_city").load(0).names()
        rows = [r for split in splits.values() for r in split]
        changed = [a.id for a, b in zip(rows, supervision(sup, 0)[0]) if a != b]
        return (f"label() edited {len(changed)} of its rows (e.g. {changed[0]!r}); a supervisor "
                "writes labels and never changes the data") if changed else None

    def deterministic() -> str | None:
        first = supervision(sup, 0)[1]
        if first != supervision(sup, 0)[1]:
            return "two runs with seed 0 differ"
        return _across_processes("supervisors", sup, None, first)

    checks = [("params round-trip", lambda: _round_trip(sup))]
    if sup.model:
        return checks
    return [*checks, ("one label per row", one_each), ("never edits its rows", untouched),
            ("deterministic for a seed, across processes", deterministic)]


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
        from harness.resolver import resolve

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
                  "backends": lambda: backend_checks(plugin),  # type: ignore
                  "supervisors": lambda: supervisor_checks(plugin)}[kind]()  # type: ignore
        out += [(name, c, f) for c, f in checks]
    return out


def sources(pairs: list[str], data_dir: str | None, names: list[str]) -> dict[str, str]:
    """Each capability's source for the checks: ``NAME=DIR`` pairs, over ``data_dir/NAME``."""
    from harness.errors import HarnessError

    out = {n: str(Path(data_dir) / n) for n in names} if data_dir else {}
    for pair in pairs:
        name, sep, where = pair.partition("=")
        if not sep or not name.strip() or not where.strip():
            raise HarnessError(f"--source {pair!r}: give NAME=DIR, e.g. --source "
                               "my_capability=./data/my_capability")
        out[name.strip()] = where.strip()
    return out


GATES = ("the source is usable", "seeded determinism")
"""Checks the rest of a plugin's need: when one fails, the plugin's later checks do not run
(they would only fail again for the same reason)."""


def check(names: list[str], source: str | None = None) -> list[Finding]:
    out: list[Finding] = []
    stopped: set[str] = set()
    for plugin, name, fn in checks_for(names, source):
        if plugin in stopped:
            continue
        found = _run(plugin, name, fn)
        if found.problem is not None and name in GATES:
            stopped.add(plugin)
            found = found._replace(problem=f"{found.problem} (its other checks need this and "
                                           "did not run)")
        out.append(found)
    return out


# ---------------------------------------------------------------- the pytest plugin

def pytest_addoption(parser):
    parser.addoption("--harness-check", default="", metavar="NAMES",
                     help="run w2s-harness's plugin contract checks on these comma-separated "
                          "plugins (any kind)")
    parser.addoption("--harness-data-dir", default=None, metavar="DIR",
                     help="local data for the checked capabilities: a folder named after each")
    parser.addoption("--harness-source", action="append", default=[], metavar="NAME=DIR",
                     help="one capability's own source, over --harness-data-dir; repeatable")


def pytest_collection_modifyitems(session, config, items):
    names = [n.strip() for n in config.getoption("--harness-check").split(",") if n.strip()]
    if not names:
        return
    given = sources(config.getoption("--harness-source"), config.getoption("--harness-data-dir"),
                    names)
    item = _item_class()
    for name in names:
        for plugin, check_name, fn in checks_for([name], given.get(name)):
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
