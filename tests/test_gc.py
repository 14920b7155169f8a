"""`harness cache gc`: checkpoints whose readers all finished go, everything else stays, a
rerun recomputes nothing, and a new stage that needs dropped weights gets them back (on the
``fake`` backend and trainer, whose checkpoints are files like any other)."""

from __future__ import annotations

from conftest import fake_suite, harness_cli, results_of, run_tiny
from harness.store import Store

BOOT = ("  - {name: boot, trainer: {name: self_bootstrap, params: {rounds: 1, trainer: fake}}}"
        "\n")


def _computed(manifest) -> list[str]:
    return sorted(s["label"].split(" [")[0] for s in manifest["stages"] if not s["cached"])


def test_gc_drops_finished_checkpoints_only_and_a_rerun_recomputes_nothing(tmp_path):
    home = tmp_path / "home"
    env = {"HARNESS_HOME": str(home)}
    suite = fake_suite(tmp_path)
    first_dir, _ = run_tiny(suite, home, "--in-process")
    store = Store(home)
    models = sorted((home / "cache" / "train").glob("[!.]*/model"))
    assert len(models) == 4  # weak, ceiling, naive, the format-only control

    kept = harness_cli("cache", "gc", "--keep-models", env=env, check=True)
    assert "dropped 0 checkpoints" in kept.stdout and all(m.is_dir() for m in models)
    dry = harness_cli("cache", "gc", "--dry-run", env=env, check=True)
    assert "would drop 4 checkpoints" in dry.stdout and all(m.is_dir() for m in models)
    gone = harness_cli("cache", "gc", env=env, check=True)
    assert "dropped 4 checkpoints" in gone.stdout
    assert not any(m.exists() for m in models)
    entries = [p for p in (home / "cache").glob("*/[!.]*")]
    assert all(store.problem(p.parent.name, p.name) is None for p in entries), \
        "every entry (results, predictions, selections, metadata) is intact"
    assert harness_cli("cache", "gc", env=env, check=True).stdout.startswith("dropped 0")

    again_dir, again = run_tiny(suite, home, "--in-process")
    assert _computed(again) == [] and results_of(again_dir) == results_of(first_dir)

    # Self-bootstrapping relabels with the naive model, whose weights are gone: it is trained
    # again (to the same bytes, so nothing built on it changes), then the new stages run.
    suite = fake_suite(tmp_path, methods="  - {name: naive}\n" + BOOT)
    boot_dir, boot = run_tiny(suite, home, "--in-process")
    # (a fake model answers what it memorised, so its relabelling repeats the weak labels and
    # the retrained table is naive's own: the grade and eval that follow are served by key)
    assert _computed(boot) == ["relabel boot 2", "train boot step 2/2", "train naive"]
    naive = [r for r in results_of(boot_dir) if r["method"] == "naive"]
    assert naive == results_of(first_dir)
