"""Planning a run that can answer (issue 32): the test items each seed count needs to detect a
PGR at 80% power, from a pilot run's own noise (``harness.power``), checked by simulation, and
`harness plan --detect-pgr --pilot` end to end on the fake plugins."""

from __future__ import annotations

import pytest

from conftest import fake_suite, harness_cli, run_fake
from harness.power import Noise, items_needed
from harness.stats import paired_difference


def _detected(n: Noise, pgr: float, seeds: int, items: int, runs: int, rng) -> float:
    """How often runs of ``seeds`` x ``items`` find a gain of ``pgr`` x gap above 0: per-item
    gains N(mean, item_var) around each seed's own N(0, seed_var) shift."""
    found = 0
    for _ in range(runs):
        pairs = []
        for _ in range(seeds):
            shift = rng.normal(0, (n.seed_var or 0) ** 0.5)
            gains = rng.normal(pgr * n.gap + shift, n.item_var ** 0.5, items)
            pairs.append((list(gains), [0.0] * items))
        found += paired_difference(pairs).low > 0
    return found / runs


@pytest.mark.parametrize("seeds,seed_var", [(3, 0.0004), (5, 0.0004), (1, None)])
def test_the_planned_items_detect_the_target_about_80_percent_of_the_time(seeds, seed_var):
    """The plan's promise, by simulation. With one seed only the items count, and the
    detection rate is the plan's 80%; with seeds, the floor on the variance (never below the
    items' noise) makes the test a little conservative, so the rate is at or a little under
    80%."""
    import numpy as np

    n = Noise(capability="c", gap=0.3, item_var=0.25, seed_var=seed_var, seeds=3, items=100)
    items = items_needed(n, 0.3, seeds)
    assert items is not None
    rate = _detected(n, 0.3, seeds, items, 1500, np.random.default_rng(seeds))
    assert 0.72 < rate < 0.85, (items, rate)
    # Half the items: clearly under 80% (the check can fail).
    assert _detected(n, 0.3, seeds, items // 2, 1500, np.random.default_rng(9)) < 0.7


def test_seed_noise_can_make_a_target_unreachable():
    n = Noise(capability="c", gap=0.1, item_var=0.25, seed_var=0.0005, seeds=3, items=100)
    # At one seed the seeds' variance alone exceeds what a PGR of 0.3 allows; at 10, not.
    assert items_needed(n, 0.3, 1) is None and items_needed(n, 0.3, 10) is not None
    assert items_needed(n.model_copy(update={"gap": 0.0}), 0.3, 10) is None


def test_plan_detect_pgr_from_a_pilot_run(tmp_path):
    suite = fake_suite(tmp_path, seeds="[0, 1]")
    run_dir, _ = run_fake(suite, tmp_path / "home")
    env = {"HARNESS_HOME": str(tmp_path / "home")}
    proc = harness_cli("plan", "--suite", str(suite), "--detect-pgr", "0.5", "--pilot",
                       str(run_dir), env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Test items a seed needs to detect PGR >= 0.5 at 80% power (naive" in proc.stdout
    assert "fake_lookup" in proc.stdout and "10 seeds" in proc.stdout
    assert "GPU sizing skipped" in proc.stdout
    alone = harness_cli("plan", "--suite", str(suite), "--detect-pgr", "0.5", env=env)
    assert alone.returncode == 2 and "--detect-pgr and --pilot go together" in alone.stderr


def test_plan_detect_pgr_from_a_published_entry(tmp_path):
    """A published entry carries its per-item results, so it serves as a pilot without its
    run folder (the SmolLM2 entries' runs are not kept)."""
    from harness.leaderboard import add

    suite = fake_suite(tmp_path, seeds="[0, 1]")
    run_dir, _ = run_fake(suite, tmp_path / "home")
    entry = add(run_dir, tmp_path / "board")
    proc = harness_cli("plan", "--suite", str(suite), "--detect-pgr", "0.5", "--pilot",
                       str(entry), env={"HARNESS_HOME": str(tmp_path / "empty")})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "fake_lookup" in proc.stdout and "10 seeds" in proc.stdout
