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


def plugin_manager() -> tuple[pluggy.PluginManager, dict[str, tuple[str, str]]]:
    """Load every plugin; return the manager and plugin name -> (distribution, version)."""
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
                raise PluginError(
                    f"plugin {ep.name!r} ({dist} {version}) failed to import: "
                    f"{type(exc).__name__}: {exc}; fix or uninstall it, or set "
                    f"HARNESS_BLOCK_PLUGINS={ep.name}"
                ) from None
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


def build_registry() -> Registry:
    """Call each register_* hook plugin by plugin, so every class is attributed to its owner."""
    pm, owners = plugin_manager()
    registry = Registry()
    for kind in KINDS:
        hook = getattr(pm.hook, f"register_{kind}")
        for impl in hook.get_hookimpls():
            owner = impl.plugin_name
            dist, version = owners.get(owner, ("unknown", "unknown"))

            def register(cls: type, _kind=kind, _owner=owner, _d=dist, _v=version) -> None:
                registry.add(_kind, cls, _owner, _d, _v)

            try:
                impl.function(register=register)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"plugin {owner!r} ({dist} {version}) raised in register_{kind}: "
                    f"{type(exc).__name__}: {exc}; fix or uninstall it, or set "
                    f"HARNESS_BLOCK_PLUGINS={owner}"
                ) from None
    return registry


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The process-wide registry, built once on first use."""
    return build_registry()
