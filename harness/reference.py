"""The reference pages generated from the code: every field a suite file may set (the suite's
pydantic models and every installed plugin's params) and every command and flag of the CLI,
so the docs cannot fall behind. A field or flag without a description is refused, not printed
blank."""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from harness.bases import KINDS, SINGULAR
from harness.plugins import DIST
from harness.registry import Registry
from harness.report import md_table


def type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("harness.bases.", "") \
        .replace("harness.schemas.", "").replace("harness.graph.", "")


def description(model: type[BaseModel], name: str) -> str:
    """A field's description; a field a subclass overrides only for its default keeps the
    description of the class it overrides."""
    for cls in model.__mro__:
        info: FieldInfo | None = getattr(cls, "model_fields", {}).get(name)
        if info is not None and info.description:
            return " ".join(info.description.split())
    return ""


def rows(model: type[BaseModel]) -> list[list[str]]:
    """name, type, default, description of each field of ``model``."""
    return [[name, type_name(info.annotation),
             "required" if info.is_required() else repr(info.get_default(call_default_factory=True)),
             description(model, name)]
            for name, info in model.model_fields.items()]


def undocumented(models: dict[str, type[BaseModel]]) -> list[str]:
    """``where.field`` for every field with no description."""
    return [f"{where}.{r[0]}" for where, model in models.items() for r in rows(model)
            if not r[3]]


def _table(header: list[str], body: list[list[str]]) -> str:
    """The first column as code, pipes in cells escaped."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    return md_table(header, [[f"`{r[0]}`", *map(cell, r[1:])] for r in body])


def suite_models(registry: Registry) -> dict[str, type[BaseModel]]:
    """Every model whose fields a suite file sets: the suite's own, then each built-in
    plugin's params (``kind name``); a third-party plugin documents its own
    (``harness list KIND NAME`` prints them)."""
    from harness.bases import DecodeConfig
    from harness.graph import Resources
    from harness.schemas import CapabilitySpec, MethodSpec, PluginRef, Suite

    models: dict[str, type[BaseModel]] = {
        "suite": Suite, "capabilities[]": CapabilitySpec, "methods[]": MethodSpec,
        "plugin reference": PluginRef, "decode": DecodeConfig, "resources.KIND": Resources}
    for kind in KINDS:
        for name, entry in sorted(registry.entries[kind].items()):
            if entry.dist == DIST:
                models[f"{SINGULAR[kind]} {name}"] = entry.cls.Params
    return models


def suite_page(registry: Registry) -> str:
    missing = undocumented(suite_models(registry))
    if missing:
        raise ValueError(f"undocumented fields: {', '.join(missing)} (give each a docstring "
                         "or Field(description=...))")
    out = ["# Suite file reference", "",
           "Generated from the pydantic models (`harness/reference.py`): every field a suite "
           "file sets, its type, default and description. Plugin params go under the "
           "plugin's `params:`.", ""]
    for where, model in suite_models(registry).items():
        out += [f"## {where}", ""]
        if model.__doc__ and where.startswith(("suite", "capabilities", "methods", "plugin",
                                               "decode", "resources")):
            out += [" ".join(model.__doc__.split()), ""]
        out += [_table(["field", "type", "default", "description"], rows(model)) if
                model.model_fields else "No params.", ""]
    return "\n".join(out)


def _commands(parser: argparse.ArgumentParser, prefix: str, summary: str = ""):
    """Each command with its parser and one-line help, depth first."""
    yield prefix, parser, summary or parser.description or ""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield from _commands(sub, f"{prefix} {name}", helps.get(name, ""))


def flags(parser: argparse.ArgumentParser) -> list[list[str]]:
    """Per command: the command, its flag or argument, and its help."""
    out = []
    for command, p, _ in _commands(parser, parser.prog):
        for action in p._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            flag = ", ".join(action.option_strings) or action.dest
            out.append([command, flag, " ".join((action.help or "").split())])
    return out


def cli_page(parser: argparse.ArgumentParser) -> str:
    table = flags(parser)
    missing = [f"{c} {f}" for c, f, h in table if not h]
    if missing:
        raise ValueError(f"flags without help: {', '.join(missing)}")
    out = ["# CLI reference", "", "Generated from the parser (`harness/cli.py`): every command "
           "and flag, with its help.", ""]
    for command, _, summary in _commands(parser, parser.prog):
        out += [f"## `{command}`", "", " ".join(summary.split()), ""]
        own = [[f, h] for c, f, h in table if c == command]
        if own:
            out += [_table(["flag", "help"], own), ""]
    return "\n".join(out)
