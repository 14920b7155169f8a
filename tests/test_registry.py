"""The plugin host: validation of plugin classes, duplicates, broken plugins, entry points."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from conftest import ROOT, harness_cli
from harness import Capability, Params, Selector
from harness.errors import PluginError
from harness.registry import Registry


class Good(Selector):
    """A fine selector."""

    name = "good"
    version = 1


def test_duplicate_names_name_both_owners():
    reg = Registry()
    reg.add("selectors", Good, "first-plugin", "dist-a", "1.0")
    with pytest.raises(PluginError) as err:
        reg.add("selectors", Good, "second-plugin", "dist-b", "2.0")
    assert "first-plugin" in str(err.value) and "second-plugin" in str(err.value)


def test_plugin_class_contract_is_enforced():
    class NoDoc(Selector):
        name = "nodoc"

    class Loose(Selector):
        """Params that accept anything."""

        name = "loose"

        class Params(BaseModel):
            x: int = 1

    class WrongKind(Capability):
        """A capability registered as a selector."""

        name = "wrong"

    reg = Registry()
    for cls, msg in ((NoDoc, "docstring"), (Loose, "forbid"), (WrongKind, "not a Selector")):
        with pytest.raises(PluginError, match=msg):
            reg.add("selectors", cls, "p", "d", "1")


def test_unknown_param_is_rejected_with_its_name():
    class WithParams(Selector):
        """Has a ratio."""

        name = "with_params"

        class Params(Params):
            ratio: float = 0.5

    reg = Registry()
    reg.add("selectors", WithParams, "p", "d", "1")
    assert reg.make("selectors", "with_params", {"ratio": 0.2}).params.ratio == 0.2
    with pytest.raises(PluginError, match="ratoi"):
        reg.make("selectors", "with_params", {"ratoi": 0.2})


@pytest.fixture(scope="module")
def example_plugin_path(tmp_path_factory) -> Path:
    """The example package installed into a private target dir, as pip would for a user."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(ROOT / "tests" / "example_plugin")],
        check=True, capture_output=True,
    )
    return target


def test_third_party_plugin_registers_through_entry_points(example_plugin_path):
    env = {"PYTHONPATH": f"{example_plugin_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = harness_cli("list", env=env, check=True)
    assert "example_echo" in proc.stdout and "example_first" in proc.stdout
    assert "w2s-example-plugin" in proc.stdout
    plugins = harness_cli("plugins", env=env, check=True).stdout
    assert "w2s-example-plugin" in plugins and "0.3.0" in plugins
    # The same package, blocked or with autoload off, contributes nothing.
    for extra in ({"HARNESS_BLOCK_PLUGINS": "example"}, {"HARNESS_DISABLE_PLUGIN_AUTOLOAD": "1"}):
        blocked = harness_cli("list", env={**env, **extra}, check=True).stdout
        assert "example_echo" not in blocked and "synth_scan" in blocked


def test_broken_plugin_is_one_line_error(tmp_path):
    site = tmp_path / "site"
    (site / "broken_plugin").mkdir(parents=True)
    (site / "broken_plugin" / "__init__.py").write_text("raise RuntimeError('boom')\n")
    dist = site / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[harness]\nbroken = broken_plugin\n")
    proc = harness_cli("run", "--suite", "quickstart", "--dry-run",
                       env={"PYTHONPATH": str(site)})
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert "\n" not in line and "broken" in line and "boom" in line
    assert "HARNESS_BLOCK_PLUGINS=broken" in line
