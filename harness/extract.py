"""Extraction pipelines: how a capability reads the answer out of a completion, as small named
steps (as lm-evaluation-harness composes filters), so third parties reuse them and a suite can
override them (e.g. strict vs flexible GSM8K) without code.

A pipeline is a list of steps, each a name or ``{name: {arg: value}}``. Every step takes the
text so far and returns new text, or None for "no answer" (which ends the pipeline); the last
step's output is the answer, compared with the capability's ``gold_of``. Each run's manifest
records the pipeline every capability used.

    extract: [{after_last: {marker: "answer is"}}, {label: {synonyms: {yes: yes, no: no}}}]
"""

from __future__ import annotations

import re
from typing import Any, Callable, Union

from harness import scoring
from harness.rows import Row

Pipeline = list[Union[str, dict[str, dict[str, Any]]]]
STEPS: dict[str, Callable[..., str | None]] = {}


def step(name: str):
    """Register ``fn(text, row, **args) -> str | None`` as the step ``name``."""
    def register(fn):
        STEPS[name] = fn
        return fn
    return register


def parse(pipeline: Pipeline) -> list[tuple[str, dict[str, Any]]]:
    """(name, args) per step; an unknown step or a malformed one is a ValueError naming it."""
    out = []
    for item in pipeline:
        if isinstance(item, str):
            name, args = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            name, args = next(iter(item.items()))
            args = args or {}
        else:
            raise ValueError(f"extraction step {item!r} is neither a name nor {{name: {{args}}}}")
        if name not in STEPS:
            raise ValueError(f"unknown extraction step {name!r}; known: {', '.join(sorted(STEPS))}")
        out.append((name, args))
    return out


def run(pipeline: Pipeline, text: str, row: Row) -> str | None:
    """The answer ``pipeline`` reads from ``text`` (None: it gives none)."""
    out: str | None = text
    for name, args in parse(pipeline):
        out = STEPS[name](out, row, **args)
        if out is None:
            return None
    return out


@step("strip")
def _strip(text: str, row: Row) -> str:
    """Surrounding whitespace removed."""
    return text.strip()


@step("after_last")
def _after_last(text: str, row: Row, marker: str, required: bool = False) -> str | None:
    """The text after the last ``marker`` (any case); without it, the whole text, or no answer
    when ``required``."""
    parts = re.split(re.escape(marker), text, flags=re.I)
    if len(parts) == 1:
        return None if required else text
    return parts[-1]


@step("before")
def _before(text: str, row: Row, marker: str) -> str:
    """The text before the first ``marker`` (any case), e.g. an explanation that follows."""
    return re.split(re.escape(marker), text, maxsplit=1, flags=re.I)[0]


@step("number")
def _number(text: str, row: Row, mode: str = "flexible") -> str | None:
    """A number in canonical form (``scoring.canonical_number``). Modes:
    ``flexible`` (default): after the last answer marker, else the last number (``last_number``);
    ``marked``: only after an answer marker; ``last``: the last number in the text;
    ``strict``: only "#### N", as lm-evaluation-harness's strict GSM8K filter."""
    if mode == "flexible":
        value = scoring.last_number(text)
    elif mode == "marked":
        value = scoring.marked_number(text)
    elif mode == "strict":
        value = scoring.marked_number(text, re.compile("####"))
    elif mode == "last":
        found = scoring.NUMBER.findall(text)
        value = scoring.to_number(found[-1]) if found else None
    else:
        raise ValueError(f"number: unknown mode {mode!r}; use flexible, marked, strict or last")
    return scoring.canonical_number(value)


@step("option")
def _option(text: str, row: Row, conflict: scoring.Conflict = "none") -> str | None:
    """The letter of the chosen option among ``row.choices`` (``scoring.choose_option``)."""
    return scoring.option_answer(text, row.choices or [], conflict)


@step("label")
def _label(text: str, row: Row, synonyms: dict[str, str]) -> str | None:
    """The label stated, negation understood (``scoring.first_label``)."""
    return scoring.first_label(text, synonyms)


@step("match")
def _match(text: str, row: Row) -> str | None:
    """The text with its whitespace collapsed, for answers compared exactly (SCAN actions);
    an empty completion gives no answer."""
    return " ".join(text.split()) or None
