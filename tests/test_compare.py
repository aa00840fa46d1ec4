"""Split comparison and shift diagnostics on data with known drift."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from tabbench.analysis.compare import (
    POOLED,
    compare_splits,
    friedman_table,
    noise_baseline,
    shift_vs_rank_change,
    strategy_statistics,
)
from tabbench.analysis.drift import diagnose_shift
from tabbench.analysis.stats import friedman, resample_counts
from tabbench.core.schema import result_frame
from tabbench.data.datasets.sample import load_subsample
from tabbench.data.datasets.spec import DatasetSpec
from tabbench.execution.config import BUDGETS
from tabbench.execution.job import Job, find_split, run_job
from tabbench.methods.models.base import MODELS, ModelSpec

SPEC = DatasetSpec.from_dict({
    "name": "drift-test", "task": "binary", "target": "target", "generator": "drift",
    "time_column": "ts",
    "generator_params": {"n_rows": 4000, "seed": 3, "drift_strength": 1.5, "noise": 0.5},
})


class _Logistic:
    """Logistic regression on the columns whose names pass ``keep`` (a test model)."""

    def __init__(self, context, keep):
        self.columns = [j for j, name in enumerate(context.feature_names) if keep(name)]
        self.device_ = "cpu"

    def fit(self, X, y, X_val=None, y_val=None):
        from sklearn.linear_model import LogisticRegression

        self.model = LogisticRegression(max_iter=1000).fit(X[:, self.columns], y)
        return self

    def predict_proba(self, X):
        return self.model.predict_proba(X[:, self.columns])


@pytest.fixture(scope="module")
def drift_models():
    specs = {
        "leans-on-drift": lambda p, c: _Logistic(c, lambda n: True),
        "ignores-drift": lambda p, c: _Logistic(c, lambda n: not n.startswith("drifting")),
    }
    for name, build in specs.items():
        MODELS.register(name, ModelSpec(name=name, task_types=("binary",), family="classic",
                                        build=build))
    yield list(specs)
    for name in specs:
        MODELS._items.pop(name)


def _job(dataset, strategy, model):
    return Job(run="t", spec=SPEC, dataset_fingerprint=dataset.fingerprint,
               split_strategy=strategy, split_id=f"{strategy}-0", model=model,
               variant="tuned", seed=0, budget=BUDGETS.get("smoke"), metric="roc_auc")


def test_model_leaning_on_a_drifting_feature_loses_rank_under_the_time_split(drift_models):
    dataset = load_subsample(SPEC, None)
    rows = []
    for strategy in ("random", "time"):
        for model in [*drift_models, "dummy"]:
            row = run_job(_job(dataset, strategy, model)).row
            assert row["status"] == "ok", row.get("error")
            rows.append(row)
    comparison = compare_splits(result_frame(rows))
    moves = {r["model"]: r for r in comparison.moves.iter_rows(named=True)}
    assert moves["leans-on-drift"]["rank_random"] == 1.0
    assert moves["leans-on-drift"]["rank_time"] == 2.0
    assert moves["leans-on-drift"]["rank_change"] == 1.0
    assert moves["ignores-drift"]["rank_change"] == -1.0
    assert moves["leans-on-drift"]["score_change_pct"] < -5
    pooled = comparison.taus.filter(pl.col("dataset") == POOLED)
    assert pooled["tau"][0] == pytest.approx(-1.0)  # the two models swap; the dummy is left out
    assert comparison.baselines == ("dummy",) and "dummy" not in comparison.moves["model"]
    assert "dummy" in comparison.rankings["model"]  # still ranked: a leaderboard keeps it
    side = comparison.side_by_side("drift-test")
    assert side.columns == ["model", "random", "time"]

    # an entry scored under one split only (here a top-k variant, best of all) is not ranked
    extra = {**rows[-1], "job_id": "extra", "variant": "tuned-top2-jmi", "test_score": 0.999}
    with_extra = compare_splits(result_frame([*rows, extra]))
    assert with_extra.moves.equals(comparison.moves)
    assert with_extra.taus.equals(comparison.taus)
    time_ranks = with_extra.rankings.filter(pl.col("strategy") == "time")
    assert time_ranks.filter(pl.col("rank") == 1.0)["model"].to_list() == [
        "dummy (tuned-top2-jmi)"]  # listed under its own split


def test_adversarial_validation_sees_the_time_shift_but_not_the_random_one():
    dataset = load_subsample(SPEC, None)
    time_report = diagnose_shift(dataset, find_split(dataset, _job(dataset, "time", "dummy")))
    random_report = diagnose_shift(dataset, find_split(dataset, _job(dataset, "random", "dummy")))
    assert time_report.adversarial_auc > 0.75
    assert abs(random_report.adversarial_auc - 0.5) < 0.08
    top = time_report.features["feature"].head(5).to_list()
    assert any(name.startswith("inf_") for name in top)  # informative means move with time
    uninformative = time_report.features.filter(pl.col("feature").str.starts_with("uninf_"))
    assert uninformative["psi"].max() < 0.1  # stationary columns do not drift
    assert np.isfinite(time_report.features["psi"].to_numpy()).all()


def test_compare_splits_command_end_to_end(cli, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = cli("compare-splits", "--dataset", "synthetic-drift", "--models",
                            "dummy,linear,lightgbm", "--budget", "smoke", "--max-rows", "1500",
                            "--splits", "random,time", "--out", out, "--details")
    assert code == 0, err
    flat = " ".join(stdout.split())  # rich wraps titles at the terminal width
    for title in ("Rank of each model on synthetic-drift", "Kendall tau between strategies",
                  "Shift between training and test rows"):
        assert title in flat
    assert (out / "compare-splits.png").stat().st_size > 5_000
    code, stdout, _ = cli("report", out)
    assert code == 0 and (out / "report.html").is_file()
    assert "Random split against time split" in (out / "report.html").read_text()


def test_compare_splits_needs_random_and_time(cli, tmp_path):
    code, _, err = cli("compare-splits", "--splits", "time,sliding-window", "--out", tmp_path)
    assert code == 2 and "must include random and time" in err


def _results(scores: dict[tuple[str, str], dict[str, list[float]]],
             metric: str = "roc_auc") -> pl.DataFrame:
    """Result rows from ``{(dataset, strategy): {model: [score of each seed]}}``."""
    rows = [{"run": "t", "kind": "benchmark", "job_id": f"{d}-{s}-{m}-{k}", "dataset": d,
             "task": "binary", "split_strategy": s, "split_id": f"{s}-0", "model": m,
             "variant": "tuned", "seed": k, "status": "ok", "metric": metric,
             "test_score": score}
            for (d, s), models in scores.items() for m, seeds in models.items()
            for k, score in enumerate(seeds)]
    return result_frame(rows)


def _planted(order_time, n_datasets=3, seeds=3, noise=0.001, gap=0.05):
    """Models a > b > c > d under the random split; under the time split the models of
    ``order_time`` (best first) get the same scores; seed noise much smaller than the gaps."""
    rng = np.random.default_rng(0)
    models = ["a", "b", "c", "d"]
    scores = {}
    for i in range(n_datasets):
        for strategy, order in (("random", models), ("time", order_time)):
            scores[(f"d{i}", strategy)] = {
                m: list(0.9 - gap * order.index(m) + rng.normal(0, noise, seeds)) for m in models}
    return _results(scores)


@pytest.mark.parametrize(("order_time", "tau"), [(["a", "b", "c", "d"], 1.0),
                                                 (["d", "c", "b", "a"], -1.0)])
def test_identical_rankings_give_tau_one_and_reversed_minus_one_with_degenerate_intervals(
        order_time, tau):
    comparison = compare_splits(_planted(order_time), n_bootstrap=200)
    taus = comparison.taus
    assert taus["tau"].to_list() == [tau] * 4  # three datasets and the pooled row
    assert taus["low"].to_list() == [tau] * 4 and taus["high"].to_list() == [tau] * 4
    assert taus["interval"].to_list() == ["bootstrap over seeds (min 3 per model)"] * 3 + [
        "bootstrap over datasets (3, rough)"]
    assert "pvalue" not in taus.columns  # a test of tau = 0 is not the question
    assert comparison.agreement.select("mean_tau", "low", "high").row(0) == (tau, tau, tau)
    assert f"Mean per-dataset Kendall tau = {tau:.2f}, 95% CI [{tau:.2f}, {tau:.2f}]" in \
        comparison.headline()


def test_one_seed_gives_no_interval_and_says_why():
    comparison = compare_splits(_planted(["b", "a", "c", "d"], seeds=1), n_bootstrap=100)
    per_dataset = comparison.taus.filter(pl.col("dataset") != POOLED)
    assert per_dataset["tau"].to_list() == pytest.approx([2 / 3] * 3)
    assert per_dataset["low"].is_nan().all() and per_dataset["high"].is_nan().all()
    assert set(per_dataset["interval"]) == {"none: 1 seed per model, no stored predictions"}
    # datasets can still be resampled for the pooled tau and the mean tau
    pooled = comparison.taus.filter(pl.col("dataset") == POOLED)
    assert pooled["low"][0] == pytest.approx(2 / 3) and pooled["high"][0] == pytest.approx(2 / 3)
    one = compare_splits(_planted(["b", "a", "c", "d"], n_datasets=1, seeds=1), n_bootstrap=50)
    assert one.taus["low"].is_nan().all()
    assert one.agreement["interval"].to_list() == ["none: 1 dataset"]
    assert "no interval from 1 dataset" in one.headline()


def _two_random_splits(order_time, n_datasets=4, noise=0.001):
    """Like :func:`_planted`, with a second random split (``random-1``) ranked like the first."""
    rows = _planted(order_time, n_datasets=n_datasets, noise=noise)
    second = rows.filter(pl.col("split_strategy") == "random").with_columns(
        pl.lit("random-1").alias("split_id"), pl.col("job_id") + "-r1")
    return pl.concat([rows, second])


def test_noise_baseline_compares_two_random_splits_with_random_against_time():
    # random-0 and random-1 rank a > b > c > d; time ranks d > c > b > a: the two random
    # splits agree (tau 1), random against time disagrees (-1) on every dataset
    baseline = noise_baseline(_two_random_splits(["d", "c", "b", "a"]))
    assert baseline.table["tau_noise"].to_list() == [1.0] * 4
    assert baseline.table["tau_across"].to_list() == [-1.0] * 4
    assert (baseline.n_lower, baseline.n_decided, baseline.n_datasets) == (4, 4, 4)
    assert baseline.pvalue == pytest.approx(0.5 ** 4)  # one-sided, exact
    assert "lower across strategies on 4 of 4 datasets" in baseline.sentence()
    assert "one-sided sign test p = 0.062" in baseline.sentence()
    # the same ranking under both strategies: no dataset is lower across, nothing decided
    same = noise_baseline(_two_random_splits(["a", "b", "c", "d"], n_datasets=2))
    assert same.n_lower == 0 and same.n_decided == 0 and same.table["tau_across"].to_list() == [
        1.0, 1.0]
    # one random split: not measured, and the sentence says how to measure it
    single = noise_baseline(_planted(["a", "b", "c", "d"]))
    assert single.n_datasets == 0 and "split_params.random.n_splits = 2" in single.sentence()


def test_noise_baseline_leaves_the_dummy_out():
    rows = _two_random_splits(["d", "c", "b", "a"])
    dummy = rows.filter(pl.col("model") == "a").with_columns(
        pl.lit("dummy").alias("model"), pl.lit(0.5).alias("test_score"), pl.col("job_id") + "-d")
    baseline = noise_baseline(pl.concat([rows, dummy]))
    assert baseline.table["n_models"].to_list() == [4] * 4
    assert baseline.table["tau_across"].to_list() == [-1.0] * 4


def _five_datasets() -> pl.DataFrame:
    time_orders = [["a", "b", "c", "d", "e"], ["b", "a", "c", "d", "e"],
                   ["a", "c", "b", "e", "d"], ["e", "d", "c", "b", "a"],
                   ["c", "a", "b", "d"]]  # on d4, model e failed under the time split
    scores = {}
    for i, order in enumerate(time_orders):
        scores[(f"d{i}", "random")] = {m: [0.9 - 0.05 * j] for j, m in enumerate("abcde")}
        scores[(f"d{i}", "time")] = {m: [0.9 - 0.05 * j] for j, m in enumerate(order)}
    return _results(scores)


def test_pooled_and_mean_tau_intervals_match_a_direct_loop_over_resampled_datasets():
    n_bootstrap, seed = 300, 5
    comparison = compare_splits(_five_datasets(), n_bootstrap=n_bootstrap, seed=seed)
    ranks = {(d, s, m): r for d, s, m, r in
             comparison.rankings.select("dataset", "strategy", "model", "rank").iter_rows()}
    datasets = [f"d{i}" for i in range(5)]
    counts = resample_counts(5, n_bootstrap, np.random.default_rng(seed))
    pooled_samples = []
    for draw in counts:
        drawn = [d for d, n in zip(datasets, draw, strict=True) for _ in range(n)]
        mean = {}
        for strategy in ("random", "time"):
            for model in "abcde":
                seen = [ranks[(d, strategy, model)] for d in drawn if (d, strategy, model) in ranks]
                if seen:
                    mean[(strategy, model)] = sum(seen) / len(seen)
        both = [m for m in "abcde" if ("random", m) in mean and ("time", m) in mean]
        pooled_samples.append(kendall_tau_scipy([mean[("random", m)] for m in both],
                                                [mean[("time", m)] for m in both]))
    pooled = comparison.taus.filter(pl.col("dataset") == POOLED).row(0, named=True)
    assert (pooled["low"], pooled["high"]) == pytest.approx(
        tuple(np.percentile(pooled_samples, [2.5, 97.5])))
    assert pooled["n_models"] == 5 and pooled["interval"] == "bootstrap over datasets (5, rough)"

    per_dataset = comparison.taus.filter(pl.col("dataset") != POOLED)["tau"].to_numpy()
    # 10 pairs: d1 one swap, d2 two, d3 reversed; d4: 6 pairs of 4 models, c passes a and b
    assert per_dataset == pytest.approx([1.0, 0.8, 0.6, -1.0, 1 / 3])
    means = [np.repeat(per_dataset, draw).mean() for draw in counts]
    agreement = comparison.agreement.row(0, named=True)
    assert agreement["mean_tau"] == pytest.approx(per_dataset.mean())
    assert (agreement["low"], agreement["high"]) == pytest.approx(
        tuple(np.percentile(means, [2.5, 97.5])))


def kendall_tau_scipy(a, b) -> float:
    from scipy import stats

    return float(stats.kendalltau(a, b).statistic)


def test_seed_bootstrap_is_seeded_and_unmoved_by_other_models():
    noisy = _planted(["a", "c", "b", "d"], noise=0.03, seeds=3)
    first, again = compare_splits(noisy, seed=3), compare_splits(noisy, seed=3)
    assert first.taus.equals(again.taus) and first.agreement.equals(again.agreement)
    other = compare_splits(noisy, seed=4).taus
    assert not other["low"].equals(first.taus["low"]) or not other["high"].equals(
        first.taus["high"])
    low, high = first.taus["low"].to_numpy(), first.taus["high"].to_numpy()
    assert (low < high).all()  # the noise is as large as the gaps: the order is uncertain
    # an entry under one strategy only draws from its own stream: per-dataset rows unchanged
    extra = pl.concat([noisy, _results({("d0", "time"): {"z": [0.1, 0.2, 0.3]}})])
    with_extra = compare_splits(extra, seed=3).taus.filter(pl.col("dataset") != POOLED)
    assert with_extra.equals(first.taus.filter(pl.col("dataset") != POOLED))


def test_bootstrap_runtime_on_a_seventeen_dataset_study():
    import time

    rng = np.random.default_rng(0)
    scores = {(f"d{i}", s): {f"m{j}": list(rng.normal(0.8, 0.05, 3)) for j in range(7)}
              for i in range(17) for s in ("random", "time")}
    results = _results(scores)
    start = time.perf_counter()
    compare_splits(results, n_bootstrap=1000)
    assert time.perf_counter() - start < 2.0


def test_strategy_statistics_use_datasets_as_blocks_and_drop_models_missing_somewhere():
    scores = {}
    for i in range(4):
        for strategy in ("random", "time"):
            models = "abcd" if (strategy == "random" or i > 0) else "abc"  # d failed on d0
            scores[(f"d{i}", strategy)] = {m: [0.9 - 0.05 * j + 0.01 * i]
                                           for j, m in enumerate(models)}
    statistics = strategy_statistics(compare_splits(_results(scores), n_bootstrap=50),
                                     n_bootstrap=30)
    by_strategy = {item.strategy: item for item in statistics}
    assert by_strategy["random"].matrix.models == ["a", "b", "c", "d"]
    assert by_strategy["time"].matrix.models == ["a", "b", "c"]
    assert by_strategy["time"].dropped == ["d"]
    assert by_strategy["random"].friedman.mean_ranks.tolist() == [1.0, 2.0, 3.0, 4.0]
    direct = friedman(by_strategy["random"].matrix.values)
    assert by_strategy["random"].friedman.statistic == pytest.approx(direct.statistic)
    table = friedman_table(statistics)
    assert table["n_datasets"].to_list() == [4, 4] and table["best"].to_list() == ["a", "a"]
    assert "left out (not on every dataset): d" in table["note"][1]
    elo = by_strategy["random"].elo
    assert elo.rating[0] > elo.rating[3] and (elo.low <= elo.rating + 1e-9).all()


def test_shift_correlates_with_rank_change_on_planted_data():
    models = list("abcde")
    scores = {}
    for k in range(6):  # dataset d<k>: the time split swaps the first k adjacent pairs...
        order = models.copy()
        for j in range(min(k, 4)):
            order[j], order[j + 1] = order[j + 1], order[j]
        if k == 5:
            order = models[::-1]  # ...and d5 reverses the order
        scores[(f"d{k}", "random")] = {m: [0.9 - 0.05 * j] for j, m in enumerate(models)}
        scores[(f"d{k}", "time")] = {m: [0.9 - 0.05 * j] for j, m in enumerate(order)}
    comparison = compare_splits(_results(scores), n_bootstrap=50)
    shifts = pl.DataFrame({
        "dataset": [f"d{k}" for k in range(6)] * 2,
        "strategy": ["time"] * 6 + ["random"] * 6,
        "adversarial_auc": [0.5 + 0.08 * k for k in range(6)] + [0.5] * 6,
        "drifting_share": [0.3] * 6 + [0.0] * 6,
    })
    result = shift_vs_rank_change(comparison, shifts, n_bootstrap=400)
    assert result.table["dataset"].to_list() == [f"d{k}" for k in range(6)]
    change = result.table["rank_change"].to_numpy()
    assert change == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 2.0])
    auc = result.correlations.row(0, named=True)
    assert auc["measure"] == "adversarial_auc" and auc["spearman"] == pytest.approx(1.0)
    assert (auc["low"], auc["high"]) == (1.0, 1.0) and auc["n_datasets"] == 6
    assert auc["pvalue"] < 0.01
    flat = result.correlations.row(1, named=True)  # the same on every dataset: no number
    assert math.isnan(flat["spearman"]) and "same value on every dataset" in flat["note"]


@pytest.mark.slow
def test_compare_splits_from_a_config_with_two_seeds_prints_the_statistics(tabbench_script,
                                                                             tmp_path):
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    for i, strength in enumerate((0.0, 0.8, 2.0)):
        (datasets / f"drift-{i}.toml").write_text(
            f'name = "drift-{i}"\ntask = "binary"\ntarget = "target"\ngenerator = "drift"\n'
            f'time_column = "ts"\ngenerator_params = {{ n_rows = 800, seed = {i}, '
            f"drift_strength = {strength} }}\n")
    config = tmp_path / "tiny.toml"
    config.write_text('name = "tiny"\ndatasets = ["drift-0", "drift-1", "drift-2"]\n'
                      'splits = ["random", "time"]\nmodels = ["dummy", "linear", '
                      '"random-forest"]\nseeds = [0, 1]\nbudget = "smoke"\njobs = 1\n')
    out = tmp_path / "run"
    code, stdout, err = tabbench_script("compare-splits", config, "--datasets-dir", datasets,
                                        "--out", out, "--details")
    assert code == 0, err
    flat = " ".join(stdout.split())
    # the jobs stored their predictions: per-dataset intervals come from the test rows (and
    # with 2 seeds, fewer than 3, no seed interval beside them)
    for line in ("bootstrap over test rows", "bootstrap over datasets (3, rough)",
                 "Mean per-dataset Kendall tau", "baselines left out; 95% interval from "
                 "resampling datasets", "baselines left out of every tau: dummy",
                 "which covers fitting and tuning noise only",
                 "Noise baseline not measured",
                 "Does the random-split ranking predict the time-split ranking? Mean "
                 "per-dataset Kendall tau =",
                 "Friedman test per strategy, datasets as blocks", "Elo per strategy",
                 "Shift of the time split against rank change",
                 "Spearman correlation across datasets of shift and rank change",
                 "adversarial_auc", "drifting_share"):
        assert line in flat, line
    assert "sliding-window" not in flat  # the config's splits, not the command's default
    for name in ("compare-splits.png", "compare-splits-shift.png",
                 "compare-splits-shift.parquet"):
        assert (out / name).stat().st_size > 1_000, name
    code, _, err = tabbench_script("report", out)
    assert code == 0, err
    page = (out / "report.html").read_text()
    for heading in ("Does the random-split ranking predict the time-split ranking?",
                    "Friedman test and Elo per split strategy (datasets as blocks)",
                    "critical-difference diagram, time split", "Elo per split strategy",
                    "Shift against rank change", "shift against rank change, one point per "
                    "dataset"):
        assert heading in page, heading
    assert "No shift table in this run folder" not in page


def test_compare_splits_with_sliding_windows_plans_the_paired_random_splits():
    from dataclasses import replace
    from pathlib import Path

    from tabbench.execution.config import load_config
    from tabbench.execution.runner import plan
    from tabbench.studies.split_study import check_strategies

    root = Path(__file__).resolve().parents[1]
    config = replace(load_config(root / "configs" / "smoke.toml"), models=("linear",),
                     splits=("random", "time", "sliding-window"),
                     split_params={"sliding-window": {"n_splits": 2}})
    check_strategies(config)  # what compare-splits runs
    jobs = plan(config)
    assert sorted(job.split_id for job in jobs) == [
        "random-0", "random-sliding-window-0", "random-sliding-window-1", "sliding-window-0",
        "sliding-window-1", "time-0"]
    assert len({job.job_id for job in jobs}) == len(jobs)
    dataset = load_subsample(jobs[0].spec, config.max_rows)
    by_id = {job.split_id: find_split(dataset, job) for job in jobs}
    for i in range(2):
        window, paired = by_id[f"sliding-window-{i}"], by_id[f"random-sliding-window-{i}"]
        assert [p.size for p in (paired.train, paired.val, paired.test)] == [
            p.size for p in (window.train, window.val, window.test)]
        assert np.array_equal(np.sort(np.concatenate([paired.train, paired.val, paired.test])),
                              np.sort(np.concatenate([window.train, window.val, window.test])))
    paired_job = next(job for job in jobs if job.split_strategy == "random-sliding-window")
    assert paired_job.split_params == {"n_splits": 2}


def test_each_window_strategy_is_compared_with_its_paired_random_split():
    scores = {}
    for i in range(3):
        for strategy in ("random", "time", "random-sliding-window", "sliding-window"):
            scores[(f"d{i}", strategy)] = {m: [0.9 - 0.05 * k] for k, m in enumerate("abcd")}
    comparison = compare_splits(_results(scores), n_bootstrap=50)
    assert comparison.strategies == ["random", "random-sliding-window", "time",
                                     "sliding-window"]
    assert comparison.headline().startswith(
        "Does the random-split ranking predict the time-split ranking?")
    [paired] = comparison.paired_headlines()
    assert paired.startswith("Does the random-sliding-window-split ranking predict the "
                             "sliding-window-split ranking? Mean per-dataset Kendall tau = 1.00")
    assert paired.endswith("(random-sliding-window-i holds the rows of sliding-window-i.)")
    assert compare_splits(_planted(["a", "b", "c", "d"]), n_bootstrap=50).paired_headlines() == []
