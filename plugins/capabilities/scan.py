"""SCAN (Lake & Baroni 2018): navigation commands to action sequences, exact match.

Local layout (``<dir>/scan/``) as in brendenlake/SCAN: ``<split>_split/tasks_{train,test}_<name>.txt``
with lines ``IN: <command> OUT: <actions>``. Hub: ``scan`` with configs ``simple``, ``length``,
``addprim_jump``, ``addprim_turn_left``; fields ``commands`` and ``actions``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from harness import Capability, DecodeConfig, Row, SplitSizes, hookimpl
from harness.errors import DataError
from harness.sources import TRAIN_TEST, field, hub_pools, is_local, lines, local_dir, need

FILES = {
    "simple": ("simple_split", "simple"),
    "length": ("length_split", "length"),
    "addprim_jump": ("add_prim_split", "addprim_jump"),
    "addprim_turn_left": ("add_prim_split", "addprim_turn_left"),
}


def scan_row(id: str, commands: str, actions: str) -> Row:
    """The prompt and target every SCAN-like capability uses."""
    commands, actions = " ".join(commands.split()), " ".join(actions.split())
    return Row(id=id, prompt=f"IN: {commands}\nOUT:", target=f" {actions}", answer=actions)


class ScanAnswers(Capability):
    """Base: exact match of the whitespace-separated action sequence."""

    extract = ["match"]

    def gold_of(self, row: Row) -> str:
        return " ".join(row.answer.split())


class Scan(ScanAnswers):
    """SCAN commands to action sequences (paper's planning capability); exact match."""

    name = "scan"
    chance = 0.0
    version = 1
    default_source = "scan"
    decode = DecodeConfig(max_new_tokens=288, stop=["\n"])  # docs/gpus.md: decode budgets

    class Params(SplitSizes):
        split: Literal["simple", "length", "addprim_jump", "addprim_turn_left"] = Field(
            "simple", description="which of SCAN's splits (Lake & Baroni 2018) to read")

    def pools(self, source: str | None, seed: int) -> dict[str, list[Row]]:
        split = self.params.split
        if source and is_local(source):
            folder, stem = FILES[split]
            root = local_dir(source, self.name) / folder
            raw = {s: [parse_line(line, root / f"tasks_{s}_{stem}.txt", n)
                       for n, line in enumerate(lines(need(root / f"tasks_{s}_{stem}.txt",
                                                           self.name)), 1) if line.strip()]
                   for s in ("train", "test")}
        else:
            raw = hub_pools(source, split, TRAIN_TEST)
        return self.normalise(raw)

    def from_hub(self, raw: dict[str, Any], split: str, index: int) -> Row:
        where = f"{split}:{index}"
        return scan_row(f"scan-{self.params.split}-{split}-{index}",
                        field(raw, "commands", self.name, where),
                        field(raw, "actions", self.name, where))


def parse_line(line: str, path, n: int) -> dict[str, str]:
    """``IN: jump twice OUT: I_JUMP I_JUMP`` -> the hub's ``{"commands", "actions"}``."""
    if not line.startswith("IN: ") or " OUT: " not in line:
        raise DataError(f"{path} line {n} is not 'IN: <command> OUT: <actions>'")
    commands, actions = line[4:].split(" OUT: ", 1)
    return {"commands": commands, "actions": actions}


@hookimpl
def register_capabilities(register):
    register(Scan)
