"""Output-chained cache keys: a recomputed stage invalidates exactly the stages downstream
whose inputs changed, and a plugin edited without a version bump is recomputed (on the
``fake`` backend and trainer, stages in process: the keys are the harness's, not torch's)."""

from __future__ import annotations

import pytest

from conftest import fake_suite, results_of, run_tiny
from harness.code import digest

SELECTOR = '''
"""A selector plugin the test edits on disk."""
import hashlib
import os

from harness import Selector, hookimpl

PARITY = {parity}


class Parity(Selector):
    """Keep the items whose salted id hash has the chosen parity."""

    name = "parity"
    version = 1

    def select(self, pool, ctx):
        salt = os.environ.get("PARITY_SALT", "")
        return [i for i in pool
                if hashlib.sha256((salt + i.id).encode()).digest()[0] % 2 == PARITY]


@hookimpl
def register_selectors(register):
    register(Parity)
'''


def _install(site, parity: int, comment: str = "") -> None:
    """The plugin as an installed distribution: a module and a dist-info with its entry point."""
    (site / "w2s_parity.py").write_text(SELECTOR.format(parity=parity) + comment)
    info = site / "w2s_parity-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: w2s-parity\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[harness]\nparity = w2s_parity\n")


def _computed(manifest) -> list[str]:
    return sorted(s["label"].split(" [")[0] for s in manifest["stages"] if not s["cached"])


@pytest.mark.slow  # whole runs in subprocesses, one per edit: the full tier (CI)
def test_force_and_source_edits_recompute_exactly_what_changed(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install(site, parity=0)
    env = {"PYTHONPATH": str(site)}
    suite = fake_suite(tmp_path, methods="  - {name: naive}\n"
                                         "  - {name: odd, selector: {name: parity}}")
    home = tmp_path / "home"
    run = lambda *extra: run_tiny(suite, home, "--in-process", *extra, env=env)  # noqa: E731
    first_dir, first = run()
    # 18, the format-only control's 3, and 3 of the untuned baselines' 4: both untuned fakes
    # answer nothing, so the second grade has the first one's inputs byte for byte, and its key
    assert len(_computed(first)) == 24

    # --force select recomputes both selections; their outputs are byte-identical, so no
    # stage downstream changes and none is recomputed.
    _, forced = run("--force", "select")
    assert _computed(forced) == ["select all", "select odd"]

    # The same --force where the selection comes out different: its training and evaluation
    # follow (the old keys would have served the model trained on the old selection).
    salted_dir, salted = run_tiny(suite, home, "--in-process", "--force", "select odd",
                         env={**env, "PARITY_SALT": "x"})
    assert _computed(salted) == ["eval odd", "grade eval odd", "select odd", "train odd"]

    # An edit of the selector's source with no version bump: recomputed, and what it feeds.
    _install(site, parity=1)
    _, edited = run()
    assert _computed(edited) == ["eval odd", "grade eval odd", "select odd", "train odd"]

    # An edit that changes nothing the selector returns (a comment): only the selection.
    _install(site, parity=1, comment="# a comment\n")
    _, commented = run()
    assert _computed(commented) == ["select odd"]

    # Back to the first source: every stage is served again. The forced, salted selection
    # replaced the first one under that source's key, and the results are the ones that
    # selection produced: what is served always matches what it was built from.
    _install(site, parity=0)
    again_dir, again = run()
    assert _computed(again) == []
    assert results_of(again_dir) == results_of(salted_dir) != results_of(first_dir)


def test_a_plugin_digest_covers_its_package_helpers_but_not_unrelated_core():
    from harness import code
    from harness_plugins.capabilities.gsm8k import GSM8K
    from harness_plugins.trainers.sft import SFT

    sft = code.module_closure(SFT.__module__)
    assert "harness_plugins.batching" in sft, "a helper of the plugin's package is its code"
    assert "harness.progress" not in sft and "harness.cli" not in sft
    assert "harness.scoring" in code.core_modules() and "harness.cli" not in code.core_modules()
    assert digest(SFT) == digest(SFT) and digest(SFT) != digest(GSM8K)
