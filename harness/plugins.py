"""The plugin manager: third-party entry points first, then the built-ins, through one set of hooks.

``HARNESS_DISABLE_PLUGIN_AUTOLOAD=1`` skips third-party entry points (the built-ins still load);
``HARNESS_BLOCK_PLUGINS=a,b`` skips the named entry points. A run snapshots the entry points it
loaded (``snapshot``) into ``HARNESS_PLUGINS_LOADED`` for its workers, so a plugin installed while
it runs is not loaded by its later stages.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from functools import lru_cache
from importlib import metadata

import pluggy

from harness import hookspecs
from harness.bases import KINDS, SINGULAR
from harness.errors import PluginError
from harness.registry import Registry

GROUP = "harness"
DIST = "w2s-harness"

BUILTINS = (
    "harness_plugins.capabilities.quick",
    "harness_plugins.capabilities.facts",
    "harness_plugins.capabilities.gsm8k",
    "harness_plugins.capabilities.mctaco",
    "harness_plugins.capabilities.scan",
    "harness_plugins.capabilities.creak",
    "harness_plugins.capabilities.ecqa",
    "harness_plugins.capabilities.esnli",
    "harness_plugins.capabilities.openbookqa",
    "harness_plugins.capabilities.sciq",
    "harness_plugins.selectors.basic",
    "harness_plugins.selectors.reward",
    "harness_plugins.selectors.probes",
    "harness_plugins.trainers.sft",
    "harness_plugins.trainers.chains",
    "harness_plugins.trainers.probe",
    "harness_plugins.trainers.confidence",
    "harness_plugins.backends.hf",
    "harness_plugins.backends.vllm",
    "harness_plugins.supervisors.basic",
    "harness_plugins.supervisors.classical",
)


def _dist_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


SLOW_IMPORT = 1.0
"""Seconds: a plugin that takes longer to import is reported (once, by the command)."""


@contextmanager
def _captured(owner: str, notes: dict[str, list[str]]) -> Iterator[None]:
    """What a plugin prints while it loads or registers is kept from the console: a command's
    output is the harness's own, and a stage's log holds what plugins print while it runs."""
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(out):
        yield
    printed = out.getvalue().splitlines()
    if printed:
        notes.setdefault(owner, []).append(
            f"printed {len(printed)} lines while loading (not shown; the first: "
            f"{printed[0][:80]!r})")


def plugin_manager(broken: dict[str, str] | None = None,
                   notes: dict[str, list[str]] | None = None) \
        -> tuple[pluggy.PluginManager, dict[str, tuple[str, str]]]:
    """Load every plugin; return the manager and plugin name -> (distribution, version).
    A plugin that fails to import is an error, or, given ``broken``, recorded there; what
    loading them printed, or a slow import, goes to ``notes``."""
    notes = {} if notes is None else notes
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    owners: dict[str, tuple[str, str]] = {}
    blocked = {b.strip() for b in os.environ.get("HARNESS_BLOCK_PLUGINS", "").split(",") if b}
    loaded = os.environ.get(SNAPSHOT)
    allowed = None if loaded is None else set(json.loads(loaded))
    if not os.environ.get("HARNESS_DISABLE_PLUGIN_AUTOLOAD"):
        for ep in metadata.entry_points(group=GROUP):
            if ep.name in blocked or pm.has_plugin(ep.name) or \
                    (allowed is not None and ep.name not in allowed):
                continue
            dist = ep.dist.name if ep.dist else "unknown"
            version = ep.dist.version if ep.dist else "unknown"
            where = f"plugin {ep.name!r} ({dist} {version})"
            fix = f"fix or uninstall it, or set HARNESS_BLOCK_PLUGINS={ep.name}"
            try:
                started = time.perf_counter()
                with _captured(ep.name, notes):
                    module = ep.load()
                took = time.perf_counter() - started
                if took > SLOW_IMPORT:
                    notes.setdefault(ep.name, []).append(
                        f"took {took:.1f} s to import, which every run (and every stage under "
                        "Ray) pays again; defer heavy imports into the functions that need them")
                unknown = _unknown_hooks(pm, module)
            except Exception as exc:
                message = f"{where} failed to import: {type(exc).__name__}: {exc}; {fix}"
            else:
                message = (f"{where} implements {', '.join(unknown)}, which this harness does "
                           f"not define (its hooks: {', '.join(HOOKS)}); {fix}") if unknown else ""
            if message:
                message = message.splitlines()[0]
                if broken is None:
                    raise PluginError(message) from None
                broken[ep.name] = message
                continue
            pm.register(module, name=ep.name)
            owners[ep.name] = (dist, version)
    for modname in BUILTINS:
        pm.register(importlib.import_module(modname), name=modname)
        owners[modname] = (DIST, _dist_version(DIST))
    return pm, owners


HOOKS = tuple(f"register_{kind}" for kind in KINDS)
SNAPSHOT = "HARNESS_PLUGINS_LOADED"


@contextmanager
def environment(name: str, value: str) -> Iterator[None]:
    """``os.environ[name] = value`` for the processes started inside the block, restored
    after it (a command run in-process, as tests do, leaves nothing behind)."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def snapshot(registry: Registry):
    """A block whose workers load only the third-party plugins this registry holds."""
    return environment(SNAPSHOT, json.dumps(sorted(registry.loaded)))


def _unknown_hooks(pm: pluggy.PluginManager, module: object) -> list[str]:
    """The module's ``@hookimpl`` functions that name no hook of ours (a misspelt
    ``register_selector``): found per plugin, so only that plugin is refused."""
    return [name for name in dir(module)
            if name not in HOOKS and pm.parse_hookimpl_opts(module, name) is not None]


def build_registry(tolerant: bool = False) -> Registry:
    """Call each register_* hook plugin by plugin, so every class is attributed to its owner.

    A broken plugin (it fails to import, raises in a hook, or registers an invalid class) is
    an error; ``tolerant`` (for `harness list` and `harness plugins`, the commands that
    diagnose it) records it in ``Registry.broken`` and keeps the rest."""
    registry = Registry()
    pm, owners = plugin_manager(registry.broken if tolerant else None, registry.notes)
    for kind in KINDS:
        hook = getattr(pm.hook, f"register_{kind}")
        # Built-ins first: a third-party plugin that reuses a built-in's name is the one
        # refused, and the built-ins stay whole.
        for impl in sorted(hook.get_hookimpls(), key=lambda i: i.plugin_name not in BUILTINS):
            owner = impl.plugin_name
            if owner in registry.broken:
                continue
            dist, version = owners.get(owner, ("unknown", "unknown"))
            added: list[type] = []
            try:
                with _captured(owner, registry.notes):
                    impl.function(register=added.append)
            except Exception as exc:
                message = (f"plugin {owner!r} ({dist} {version}) raised in register_{kind}: "
                           f"{type(exc).__name__}: {exc}; fix or uninstall it, or set "
                           f"HARNESS_BLOCK_PLUGINS={owner}")
                if not tolerant:
                    raise PluginError(message) from None
                registry.broken[owner] = message
                for k in KINDS:  # nothing half-registered stays
                    registry.entries[k] = {n: e for n, e in registry.entries[k].items()
                                           if e.owner != owner}
                continue
            for cls in added:  # one invalid class is refused alone; its siblings register
                try:
                    registry.add(kind, cls, owner, dist, version)
                except PluginError as exc:
                    message = str(exc) if "HARNESS_BLOCK_PLUGINS" in str(exc) else \
                        f"{exc}; fix it, or set HARNESS_BLOCK_PLUGINS={owner} to skip the plugin"
                    if not tolerant:
                        raise PluginError(message) from None
                    name = getattr(cls, "name", None) or getattr(cls, "__name__", "?")
                    registry.broken[f"{owner}: {SINGULAR[kind]} {name}"] = message
    registry.loaded = [o for o, (dist, _) in owners.items() if dist != DIST]
    registered = {e.owner for kind in KINDS for e in registry.entries[kind].values()}
    refused = {key.split(": ")[0] for key in registry.broken}
    for owner, (dist, _) in owners.items():
        if dist != DIST and owner not in registered and owner not in refused:
            registry.empty[owner] = dist
    return registry


def warn_empty(registry: Registry) -> None:
    """A warning per installed plugin that registered nothing (a module without
    ``@hookimpl`` functions registers nothing, silently otherwise), and one per plugin that
    printed while loading or was slow to import."""
    from harness.progress import say

    for owner, lines in registry.notes.items():
        for line in lines:
            say(f"warning: plugin {owner!r} {line}")

    for owner, dist in registry.empty.items():
        say(f"warning: plugin {owner!r} ({dist}) registered nothing: its module needs "
            "functions marked @hookimpl named register_capabilities, register_selectors, "
            "register_trainers, register_backends or register_supervisors")


TOLERANT = "HARNESS_TOLERANT_PLUGINS"
"""Set (by ``harness check``), the process-wide registry keeps what loads beside what is
broken, as ``harness list`` does, so the kit checks a broken plugin's valid siblings."""


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The process-wide registry, built once on first use."""
    built = build_registry(tolerant=bool(os.environ.get(TOLERANT)))
    warn_empty(built)
    return built
