"""Simulations that show each statistic of the split comparison can fail, and holds its level.

Each test builds data with a known answer: rankings unrelated by construction, a split that
does not matter, windows of one dataset. Old designs that the issue tracker showed wrong
are simulated beside the current one where that shows what the check guards against.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tabbench.analysis.compare import compare_splits, noise_counts, noise_taus
from tabbench.analysis.stats import (
    friedman,
    kendall_tau_b,
    nemenyi_critical_difference,
    normalized_scores,
    sign_test_greater,
    spearman_with_interval,
)
from tabbench.core.schema import result_frame
from tabbench.studies.report import _statistics_section, dataset_matrix

SIGN_LEVEL = 0.05


def _rows(scores: dict[tuple[str, str, str], dict[str, float]]) -> pl.DataFrame:
    """Result rows from ``{(dataset, strategy, split_id): {model: score}}`` (seed 0)."""
    rows = [{"run": "t", "kind": "benchmark", "job_id": f"{d}-{i}-{m}", "dataset": d,
             "task": "binary", "split_strategy": s, "split_id": i, "model": m,
             "variant": "tuned", "seed": 0, "status": "ok", "metric": "roc_auc",
             "test_score": score}
            for (d, s, i), models in scores.items() for m, score in models.items()]
    return result_frame(rows)


def test_a_dummy_last_everywhere_does_not_make_unrelated_rankings_agree():
    # 6 models ranked independently under each split, the dummy last under both: with the
    # dummy counted, the expected tau is 6/21 = 0.29; left out, 0
    rng = np.random.default_rng(0)
    models = ["a", "b", "c", "d", "e", "f"]
    scores = {}
    for k in range(300):
        for strategy in ("random", "time"):
            scores[(f"d{k}", strategy, f"{strategy}-0")] = {
                **dict(zip(models, 0.7 + 0.2 * rng.random(6), strict=True)), "dummy": 0.5}
    comparison = compare_splits(_rows(scores), n_bootstrap=50)
    mean_tau = comparison.agreement.row(0, named=True)["mean_tau"]
    # sd of tau over 6 unrelated models is 0.36, so its mean over 300 datasets has se 0.02
    assert abs(mean_tau) < 0.07
    with_dummy = compare_splits(_rows(scores), n_bootstrap=50, baselines=())
    assert with_dummy.agreement.row(0, named=True)["mean_tau"] == pytest.approx(6 / 21, abs=0.07)
    assert "baselines left out of every tau: dummy" in comparison.headline()


def _simulate_studies(n_studies, n_datasets, n_models, *, effect, seed, noise=1.0):
    """Scores of simulated split studies, ``(studies, datasets, models)`` each.

    A dataset's models have true qualities; a split's test rows add one draw of test-row
    noise per model, and each of 3 seeds adds fitting noise (averaged over the seeds). Two
    random splits (r0, r1) and a time split (t) are drawn per dataset; under the time split
    the true qualities move by ``effect`` (0: the split does not matter). ``t_seeds`` keeps
    the time split's single-seed scores for the old seed-based design.
    """
    rng = np.random.default_rng(seed)
    shape = (n_studies, n_datasets, n_models)
    truth = rng.normal(0, 1.0, shape)
    moved = truth + effect * rng.normal(0, 1.0, shape)
    test_noise = seed_noise = noise  # test-row noise equal to seed noise

    def split(quality):
        per_seed = quality[..., None] + rng.normal(0, test_noise, shape)[..., None] \
            + rng.normal(0, seed_noise, (*shape, 3))
        return per_seed.mean(-1), per_seed

    (r0, r0_seeds), (r1, _), (t, t_seeds) = split(truth), split(truth), split(moved)
    return r0, r1, t, r0_seeds, t_seeds


def _rejection_rate(r0, r1, t):
    lower, decided = noise_counts(*noise_taus(r0, r1, t))
    return float((sign_test_greater(lower, decided) <= SIGN_LEVEL).mean())


def test_noise_baseline_holds_its_level_where_the_split_does_not_matter_and_finds_an_effect():
    n_studies = 2000
    r0, r1, t, r0_seeds, t_seeds = _simulate_studies(n_studies, 17, 6, effect=0.0, seed=1)
    rate = _rejection_rate(r0, r1, t)
    # the exact sign test is conservative (discrete): at most 5%, plus 2.5 binomial se
    assert rate <= SIGN_LEVEL + 2.5 * np.sqrt(SIGN_LEVEL * (1 - SIGN_LEVEL) / n_studies)
    assert rate > 0.005  # and not blind
    # the old design: two seeds on the same test rows (fitting noise only) against random
    # and time on different rows: rejects far more often with nothing to find
    same_rows = kendall_tau_b(t_seeds[..., 0], t_seeds[..., 1])
    across = kendall_tau_b(r0_seeds[..., 0], t_seeds[..., 1])
    old = float((sign_test_greater((across < same_rows).sum(-1),
                                   (across != same_rows).sum(-1)) <= SIGN_LEVEL).mean())
    assert old > 0.5
    # a split that changes the qualities is found
    r0, r1, t, *_ = _simulate_studies(500, 17, 6, effect=1.5, seed=2, noise=0.3)
    assert _rejection_rate(r0, r1, t) > 0.85


def test_sign_test_matches_scipys_binomial_test():
    from scipy.stats import binomtest

    for k, n in ((0, 5), (3, 5), (13, 17), (17, 17)):
        assert sign_test_greater(k, n) == pytest.approx(
            binomtest(k, n, alternative="greater").pvalue)
    assert np.isnan(sign_test_greater(0, 0))


def test_report_friedman_averages_the_windows_of_a_dataset_first():
    rng = np.random.default_rng(3)
    models = ["a", "b", "c", "d"]
    scores = {(f"d{k}", "sliding-window", f"sliding-window-{w}"): dict(
        zip(models, 0.8 + 0.05 * rng.random(4), strict=True)) for k in range(5) for w in range(3)}
    results = _rows(scores)
    matrix = dataset_matrix(results, "sliding-window")
    assert matrix.values.shape == (5, 4)  # datasets are the blocks, not 15 windows
    per_dataset = (results.group_by("dataset", "model").agg(pl.col("test_score").mean())
                   .sort("dataset", "model"))
    expected = per_dataset["test_score"].to_numpy().reshape(5, 4)
    assert matrix.values == pytest.approx(expected)
    cd = friedman(matrix.values).critical_difference
    assert cd == pytest.approx(nemenyi_critical_difference(4, 5))
    html = _statistics_section(results, "sliding-window")
    assert f"critical difference (α = 0.05): {cd:.2f} ranks" in html
    assert "over 5 datasets" in html
    assert f"{nemenyi_critical_difference(4, 15):.2f} ranks" not in html


def test_normalized_score_is_clipped_at_the_dummy():
    values = np.array([[0.9, 0.5, 0.2]])  # best, dummy, far worse than the dummy
    assert normalized_scores(values, ["a", "dummy", "b"]).tolist() == [[1.0, 0.0, 0.0]]


def test_spearman_permutation_pvalue_holds_its_level_with_ties():
    rng = np.random.default_rng(4)
    pvalues = []
    for k in range(300):
        x = rng.integers(0, 4, 9).astype(float)  # heavy ties, as a saturated AUC gives
        y = rng.normal(size=9)
        pvalues.append(spearman_with_interval(x, y, n_bootstrap=10, seed=k).pvalue)
    pvalues = np.array(pvalues)
    pvalues = pvalues[~np.isnan(pvalues)]
    assert (pvalues <= 0.05).mean() <= 0.05 + 2.5 * np.sqrt(0.05 * 0.95 / len(pvalues))
    assert (pvalues <= 0.5).mean() == pytest.approx(0.5, abs=0.1)  # uniform, not stuck at 1


def _flip_run(run, n, rng):
    """A run folder of 5 regression models under a random and a time split (one seed, stored
    predictions): error scales 1.0-1.2 in order under random, the first three reversed under
    time, so the true tau between the rankings is 0.4."""
    from tabbench.core.predictions import prediction_frame, write_predictions

    scales = {"random": [1.0, 1.05, 1.1, 1.15, 1.2], "time": [1.1, 1.05, 1.0, 1.15, 1.2]}
    rows = []
    for k, (strategy, scale) in enumerate(scales.items()):
        test_rows = np.arange(k * n, (k + 1) * n)
        y = rng.normal(size=n)
        for model, s in zip("abcde", scale, strict=True):
            job_id = f"d-{strategy}-{model}"
            prediction = y + s * rng.normal(size=n)
            write_predictions(run, job_id, prediction_frame(
                {"test": (test_rows, y, prediction)}, time=np.arange(2 * n)))
            rows.append({"run": "t", "kind": "benchmark", "job_id": job_id, "dataset": "d",
                         "task": "regression", "split_strategy": strategy,
                         "split_id": f"{strategy}-0", "model": model, "variant": "tuned",
                         "seed": 0, "status": "ok", "metric": "mae",
                         "test_score": float(np.mean(np.abs(prediction - y)))})
    return result_frame(rows)


@pytest.mark.slow
def test_one_seed_gets_a_tau_interval_from_the_test_rows_that_covers_and_narrows(tmp_path):
    from tabbench.analysis.leaderboard import dataset_confidence

    rng = np.random.default_rng(5)
    widths, covered = {}, []
    for n in (400, 6000):
        for rep in range(12):
            run = tmp_path / f"{n}-{rep}"
            results = _flip_run(run, n, rng)
            confidence = dataset_confidence(run, results, n_resamples=200)
            row = compare_splits(results, confidence=confidence, n_bootstrap=50).taus.row(
                0, named=True)
            assert row["interval"] == "bootstrap over test rows"
            covered.append(row["low"] <= 0.4 <= row["high"])
            widths.setdefault(n, []).append(row["high"] - row["low"])
    # a percentile interval of a discrete statistic is conservative: in simulation it covers
    # the true tau in 99-100% of runs at these sizes
    assert np.mean(covered) >= 0.9
    assert np.mean(widths[6000]) < 0.5 * np.mean(widths[400])
    without = compare_splits(results, n_bootstrap=50).taus.row(0, named=True)
    assert without["interval"] == "none: 1 seed per model, no stored predictions"
