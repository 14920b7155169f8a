"""Typed registry: plugin name -> class, with the plugin and distribution that own it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, overload

from pydantic import BaseModel

from harness.bases import KINDS, SINGULAR, Plugin, SplitSizes
from harness.errors import PluginError, one_line

if TYPE_CHECKING:
    from harness.bases import Backend, Capability, Selector, Supervisor, Trainer

DIST = "_harness_dist"
"""The attribute of a plugin made by the registry that names its distribution and version."""


@dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    cls: type[Plugin]
    owner: str
    """The pluggy plugin (entry-point name or built-in module) that registered it."""
    dist: str
    dist_version: str

    def instantiate(self, params: dict[str, Any] | None = None) -> Plugin:
        """The plugin, stamped with the distribution it came from (``DIST``), so a fault in
        its code names its author without a registry at hand."""
        plugin = self.cls(params)
        setattr(plugin, DIST, f"{self.dist} {self.dist_version}")
        return plugin


def wrong_defaults(params: type[BaseModel]) -> str | None:
    """The first default that its own field refuses, as ``field: why``; None when all pass.
    Pydantic checks defaults only when asked, so a wrong one would pass planning and fail
    at its stage, after hours of the stages before it."""
    from pydantic import ValidationError

    class Checked(params):  # type: ignore[misc, valid-type]
        model_config = {**params.model_config, "validate_default": True}

    try:
        Checked.model_validate({})
    except ValidationError as exc:
        for err in exc.errors():
            if err["type"] != "missing":
                field = ".".join(str(p) for p in err["loc"])
                return f"{field}={err.get('input')!r} is wrong: {err['msg']}"
    return None


@dataclass
class Registry:
    entries: dict[str, dict[str, Entry]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    broken: dict[str, str] = field(default_factory=dict)
    """Plugin -> the one-line error that kept it out (only in a tolerant registry)."""
    loaded: list[str] = field(default_factory=list)
    """The third-party entry points that loaded (``harness.plugins.snapshot``)."""
    empty: dict[str, str] = field(default_factory=dict)
    """Entry point -> its distribution, for third-party plugins that registered nothing."""
    notes: dict[str, list[str]] = field(default_factory=dict)
    """Plugin -> what it printed while loading, or how slowly it imported (warned once)."""
    clashes: dict[str, list[str]] = field(default_factory=dict)
    """A name -> the plugins registering it ("owner (dist version)"), where more than one did:
    only the first registered, and ``harness check NAME`` refuses to guess."""

    def add(self, kind: str, cls: type, owner: str, dist: str, dist_version: str) -> None:
        base = KINDS[kind]
        where = f"plugin {owner!r} ({dist} {dist_version})"
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginError(f"{where} registered {cls!r}, which is not a {base.__name__} subclass")
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"{where} registered {cls.__name__} without a string `name`")
        if not isinstance(getattr(cls, "version", None), int):
            raise PluginError(f"{where}: {SINGULAR[kind]} {name!r} needs an integer `version`")
        if not (cls.__doc__ or "").strip():
            raise PluginError(f"{where}: {SINGULAR[kind]} {name!r} needs a docstring")
        params = getattr(cls, "Params", None)
        if not (isinstance(params, type) and issubclass(params, BaseModel)):
            raise PluginError(f"{where}: {SINGULAR[kind]} {name!r} needs a pydantic `Params` model")
        if params.model_config.get("extra") != "forbid":
            raise PluginError(
                f"{where}: {SINGULAR[kind]} {name!r} Params must forbid unknown fields "
                "(subclass harness.Params)"
            )
        if kind == "capabilities" and not issubclass(params, SplitSizes):
            raise PluginError(
                f"{where}: capability {name!r} Params must subclass harness.SplitSizes (the "
                "labeled/unlabeled/test sizes every capability takes): write "
                "`class Params(SplitSizes):`"
            )
        chance = getattr(cls, "chance", None)
        if kind == "capabilities" and chance is not None and not (
                isinstance(chance, (int, float)) and 0 <= chance <= 1):
            raise PluginError(f"{where}: capability {name!r} declares chance {chance!r}; it is "
                              "an accuracy, a number in [0, 1] (or None when unknown)")
        bad = wrong_defaults(params)
        if bad:
            raise PluginError(f"{where}: {SINGULAR[kind]} {name!r} Params default {bad}")
        if name in self.entries[kind]:
            other = self.entries[kind][name]
            self.clashes.setdefault(name, [f"{other.owner} ({other.dist} "
                                           f"{other.dist_version})"]).append(where)
            raise PluginError(
                f"two {kind} are named {name!r}: one from plugin {other.owner!r} "
                f"({other.dist} {other.dist_version}), one from {where}; rename it, "
                f"uninstall it, or set HARNESS_BLOCK_PLUGINS={owner}"
            )
        self.entries[kind][name] = Entry(kind, name, cls, owner, dist, dist_version)

    def get(self, kind: str, name: str) -> Entry:
        try:
            return self.entries[kind][name]
        except KeyError:
            known = ", ".join(sorted(self.entries[kind])) or "none"
            raise PluginError(
                f"unknown {SINGULAR[kind]} {name!r}; installed: {known} "
                f"(see `harness list {kind}`)"
            ) from None

    @overload
    def make(self, kind: Literal["capabilities"], name: str,
             params: dict[str, Any] | None = None) -> Capability: ...
    @overload
    def make(self, kind: Literal["selectors"], name: str,
             params: dict[str, Any] | None = None) -> Selector: ...
    @overload
    def make(self, kind: Literal["trainers"], name: str,
             params: dict[str, Any] | None = None) -> Trainer: ...
    @overload
    def make(self, kind: Literal["backends"], name: str,
             params: dict[str, Any] | None = None) -> Backend: ...
    @overload
    def make(self, kind: Literal["supervisors"], name: str,
             params: dict[str, Any] | None = None) -> Supervisor: ...
    @overload
    def make(self, kind: str, name: str, params: dict[str, Any] | None = None) -> Plugin: ...

    def make(self, kind: str, name: str, params: dict[str, Any] | None = None) -> Plugin:
        """Instantiate a plugin as its kind's type, turning a bad param into a one-line
        error."""
        entry = self.get(kind, name)
        try:
            return entry.instantiate(params)
        except Exception as exc:  # pydantic.ValidationError and plugin __init__ errors
            raise PluginError(f"bad params for {SINGULAR[kind]} {name!r}: {one_line(exc)}") from None

