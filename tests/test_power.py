"""Planning a run that can answer (issues 32 and 48): the test items each seed count needs to
show a PGR at 80% power, from a pilot run's own noise (``harness.power``, the code behind every
"could detect" a run prints), checked by simulation, and `harness plan --detect-pgr --pilot`
end to end on the fake plugins."""

from __future__ import annotations

import pytest

from conftest import fake_suite, harness_cli, run_fake
from harness.power import Design, items_needed
from harness.stats import pooled_pgr


def _shown(design: Design, gap: float, pgr: float, seeds: int, items: int, runs: int,
           rng) -> float:
    """How often runs of ``seeds`` x ``items`` show a PGR of ``pgr`` above 0: per seed, the
    gain and gap shift together by N(0, the design's seed covariance), and per item they
    are drawn around that with the design's item covariance."""
    import numpy as np

    seed = np.asarray(design.seed_cov or [[0.0, 0.0], [0.0, 0.0]])
    found = 0
    for _ in range(runs):
        seeds_ = []
        for _ in range(seeds):
            shift = rng.multivariate_normal([pgr * gap, gap], seed)
            g, d = rng.multivariate_normal(shift, design.item_cov, items).T
            seeds_.append({"weak": [0.0] * items, "w2s": list(g), "ceiling": list(d)})
        est, note = pooled_pgr(seeds_)
        found += est is not None and note is None and est.low > 0
    return found / runs


DESIGN = Design(seeds=3, items=100, item_cov=[[0.3, 0.1], [0.1, 0.3]],
                seed_cov=[[0.0004, 0.0], [0.0, 0.0004]])


@pytest.mark.parametrize("seeds,seed_cov", [(3, DESIGN.seed_cov), (5, DESIGN.seed_cov),
                                            (1, None)])
def test_the_planned_items_show_the_target_about_80_percent_of_the_time(seeds, seed_cov):
    """The plan's promise, by simulation, the gap's uncertainty included: the planned items
    show PGR 0.3 at a gap of 0.3 80% ± 3% of the time; half of them clearly less."""
    import numpy as np

    design = DESIGN.model_copy(update={"seed_cov": seed_cov})
    items = items_needed(design, 0.3, 0.3, seeds)
    assert items is not None
    rate = _shown(design, 0.3, 0.3, seeds, items, 1500, np.random.default_rng(seeds))
    assert abs(rate - 0.80) < 0.03, (items, rate)
    assert _shown(design, 0.3, 0.3, seeds, items // 2, 600, np.random.default_rng(9)) < 0.7


def test_seed_noise_can_make_a_target_unreachable():
    design = DESIGN.model_copy(update={"seed_cov": [[0.0005, 0.0], [0.0, 0.0005]]})
    # At 3 seeds the seeds' variance alone exceeds what a PGR of 0.3 allows; at 10, not.
    assert items_needed(design, 0.1, 0.3, 3) is None
    assert items_needed(design, 0.1, 0.3, 10) is not None
    assert items_needed(design, 0.0, 0.3, 10) is None


def _planned(folder, *flags: str, mixtures: str = "[joint]"):
    """A 2-seed fake pilot run in ``folder``, then `harness plan` from it with ``flags``: the
    suite, the home and the finished process."""
    suite = fake_suite(folder, seeds="[0, 1]", mixtures=mixtures)
    run_dir, _ = run_fake(suite, folder / "home")
    env = {"HARNESS_HOME": str(folder / "home")}
    return suite, env, harness_cli("plan", "--suite", str(suite), *flags, "--pilot",
                                   str(run_dir), env=env)


def test_plan_detect_pgr_from_a_pilot_run(tmp_path):
    suite, env, proc = _planned(tmp_path, "--detect-pgr", "0.5")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Test items a seed needs to show PGR >= 0.5 at 80% power (naive" in proc.stdout
    assert "fake_lookup" in proc.stdout and "10 seeds" in proc.stdout
    assert "GPU sizing skipped" in proc.stdout
    alone = harness_cli("plan", "--suite", str(suite), "--detect-pgr", "0.5", env=env)
    assert alone.returncode == 2 and "--detect-pgr (or --margin) and --pilot go together" in alone.stderr


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


def test_plan_sizes_a_suite_for_finding_2s_margin(tmp_path):
    """`harness plan --margin` (issue 48): from a pilot with both mixtures, the items each seed
    count needs for finding 2 to hold within the margin; a pilot without them is refused."""
    _, _, proc = _planned(tmp_path, "--margin", "0.05", mixtures="[joint, single]")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "for finding 2 to hold within ±0.05 at 80% power" in proc.stdout
    (tmp_path / "j").mkdir()
    _, _, refused = _planned(tmp_path / "j", "--margin", "0.05")
    assert refused.returncode == 2 and "no naive results in both mixtures" in refused.stderr


def test_the_smallest_margin_is_met_80_percent_of_the_time():
    """Finding 2's printed margin: runs of the design with a true difference of 0 establish
    it (90% interval inside ±margin) 80% ± 3% of the time."""
    import numpy as np

    from harness.power import smallest_margin
    from harness.stats import paired_difference

    design = Design(seeds=3, items=150, item_cov=[[0.3]], seed_cov=[[0.0004]])
    margin = smallest_margin(design)
    rng = np.random.default_rng(3)
    held = 0
    for _ in range(1500):
        seeds = [list(rng.normal(rng.normal(0, 0.02), 0.3 ** 0.5, 150)) for _ in range(3)]
        d = paired_difference([(s, [0.0] * 150) for s in seeds], confidence=0.90)
        held += -margin < d.low and d.high < margin
    assert abs(held / 1500 - 0.80) < 0.03, (margin, held / 1500)


def _cell(means: list[float], variance: float, items: int, rng) -> list[list[list[float]]]:
    """One cell of a pilot: per seed, two independent series of ``items`` values whose sample
    variance is exactly ``variance`` and whose first series' mean is exactly that seed's."""
    import numpy as np

    out = []
    for m in means:
        series = []
        for centre in (m, 0.2):
            x = rng.standard_normal(items)
            series.append(list((x - x.mean()) / x.std(ddof=1) * variance ** 0.5 + centre))
        out.append(series)
    return out


def test_seeds_that_agree_better_than_their_items_still_give_a_power_figure():
    """Issue 49's pilot: the seeds' pooled share came out below 0 (they agreed better than
    their items' noise predicts), so a cell's estimated variance was near 0 and its degrees
    of freedom about 0.01; chi-square draws at that df underflow to 0, a scale was infinite,
    and `detectable` raised (brentq on NaN) at the end of a finished run. A draw of 0 is now
    kept finite: the figure is None (no effect found in 80% of runs) or a number, never a
    raise. Two cells whose seeds' means vary by 0.00051 against item shares of 0.001 and
    0.002: the first cell's estimated total is 1e-5."""
    import numpy as np

    from harness.power import designs, detectable, detectable_pgr

    rng = np.random.default_rng(0)
    d = 0.00051 ** 0.5
    first = designs([_cell([0.0, d, 2 * d], 0.3, 300, rng),
                     _cell([0.0, d, 2 * d], 0.6, 300, rng)])[0]
    assert first.seed_cov is not None and first.seed_cov[0][0] < 0
    assert first.df is not None and first.df < 0.1, first.df
    for design in (first, Design(seeds=3, items=300, item_cov=[[0.2562]],
                                 seed_cov=[[-0.000845]], df=0.0086)):  # the pilot's own
        found = detectable(design)
        assert found is None or found >= 0
    detectable_pgr(Design(seeds=3, items=300, item_cov=[[0.36, 0.1], [0.1, 0.25]],
                          seed_cov=[[-0.0008, 0.0], [0.0, -0.0012]], df=0.0086), 0.2)
