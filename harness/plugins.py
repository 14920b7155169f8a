"""The plugin manager: third-party entry points first, then the built-ins, through one set of hooks.

``HARNESS_DISABLE_PLUGIN_AUTOLOAD=1`` skips third-party entry points (the built-ins still load);
``HARNESS_BLOCK_PLUGINS=a,b`` skips the named entry points.
"""

from __future__ import annotations

import importlib
import os
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
    if not os.environ.get("HARNESS_DISABLE_PLUGIN_AUTOLOAD"):
        for ep in metadata.entry_points(group=GROUP):
            if ep.name in blocked or pm.has_plugin(ep.name):
                continue
            dist = ep.dist.name if ep.dist else "unknown"
            version = ep.dist.version if ep.dist else "unknown"
            try:
                module = ep.load()
            except Exception as exc:
                message = (f"plugin {ep.name!r} ({dist} {version}) failed to import: "
                           f"{type(exc).__name__}: {exc}; fix or uninstall it, or set "
                           f"HARNESS_BLOCK_PLUGINS={ep.name}")
                if broken is None:
                    raise PluginError(message) from None
                broken[ep.name] = message
                continue
            pm.register(module, name=ep.name)
            owners[ep.name] = (dist, version)
    for modname in BUILTINS:
        pm.register(importlib.import_module(modname), name=modname)
        owners[modname] = (DIST, _dist_version(DIST))
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(
            f"{exc}; the plugin implements a hook this harness does not define"
        ) from None
    return pm, owners


def build_registry(tolerant: bool = False) -> Registry:
    """Call each register_* hook plugin by plugin, so every class is attributed to its owner.

    A broken plugin (it fails to import, raises in a hook, or registers an invalid class) is
    an error; ``tolerant`` (for `harness list` and `harness plugins`, the commands that
    diagnose it) records it in ``Registry.broken`` and keeps the rest."""
    registry = Registry()
    pm, owners = plugin_manager(registry.broken if tolerant else None)
    for kind in KINDS:
        hook = getattr(pm.hook, f"register_{kind}")
        for impl in hook.get_hookimpls():
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
