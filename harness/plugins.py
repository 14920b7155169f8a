"""The plugin manager: third-party entry points first, then the built-ins, through one set of hooks.

``HARNESS_DISABLE_PLUGIN_AUTOLOAD=1`` skips third-party entry points (the built-ins still load);
``HARNESS_BLOCK_PLUGINS=a,b`` skips the named entry points. A run snapshots the entry points it
loaded (``snapshot``) into ``HARNESS_PLUGINS_LOADED`` for its workers, so a plugin installed while
it runs is not loaded by its later stages.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from importlib import metadata

import pluggy

from harness import hookspecs
from harness.bases import KINDS
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
    "harness_plugins.trainers.sft",
    "harness_plugins.trainers.chains",
    "harness_plugins.backends.hf",
    "harness_plugins.backends.vllm",
)


def _dist_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def plugin_manager(broken: dict[str, str] | None = None) \
        -> tuple[pluggy.PluginManager, dict[str, tuple[str, str]]]:
    """Load every plugin; return the manager and plugin name -> (distribution, version).
    A plugin that fails to import is an error, or, given ``broken``, recorded there."""
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
                module = ep.load()
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
    pm, owners = plugin_manager(registry.broken if tolerant else None)
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
                impl.function(register=added.append)
                for cls in added:
                    registry.add(kind, cls, owner, dist, version)
            except Exception as exc:
                message = str(exc) if isinstance(exc, PluginError) else (
                    f"plugin {owner!r} ({dist} {version}) raised in register_{kind}: "
                    f"{type(exc).__name__}: {exc}; fix or uninstall it, or set "
                    f"HARNESS_BLOCK_PLUGINS={owner}")
                if not tolerant:
                    raise PluginError(message) from None
                registry.broken[owner] = message
                for k in KINDS:  # nothing half-registered stays
                    registry.entries[k] = {n: e for n, e in registry.entries[k].items()
                                           if e.owner != owner}
    registry.loaded = [o for o, (dist, _) in owners.items() if dist != DIST]
    registered = {e.owner for kind in KINDS for e in registry.entries[kind].values()}
    for owner, (dist, _) in owners.items():
        if dist != DIST and owner not in registered and owner not in registry.broken:
            registry.empty[owner] = dist
    return registry


def warn_empty(registry: Registry) -> None:
    """A warning per installed plugin that registered nothing (a module without
    ``@hookimpl`` functions registers nothing, silently otherwise)."""
    from harness.progress import say

    for owner, dist in registry.empty.items():
        say(f"warning: plugin {owner!r} ({dist}) registered nothing: its module needs "
            "functions marked @hookimpl named register_capabilities, register_selectors, "
            "register_trainers or register_backends")


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The process-wide registry, built once on first use."""
    built = build_registry()
    warn_empty(built)
    return built
