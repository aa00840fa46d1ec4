"""Feature ranking (OutRank): encoding, MI, the chance correction, 3MR, interactions, quality."""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import mutual_info_score

from tabbench.data.datasets.synthetic import generate, ground_truth
from tabbench.exceptions import TabbenchError, UnknownNameError
from tabbench.methods.features.encode import combine_codes, encode_features, encode_target
from tabbench.methods.features.estimators import (
    MIEstimator,
    heldout_information,
    mutual_information,
)
from tabbench.methods.features.quality import quality_report
from tabbench.methods.features.rankers import RANKERS
from tabbench.methods.features.ranking import rank_table

DRIFT = {"n_correlated": 0}  # correlated features carry target information through sources


def drift_frame(n_rows: int, **params) -> tuple[pl.DataFrame, dict[str, str], dict]:
    truth = ground_truth("drift", **DRIFT, **params)
    frame = generate("drift", n_rows=n_rows, seed=0, **DRIFT, **params)
    kinds = {c: "numeric" for c in truth["numeric"]} | {c: "categorical"
                                                         for c in truth["categorical"]}
    return frame, kinds, truth


@pytest.fixture(scope="module")
def with_noise_id():
    """50,000 rows of the drift table plus a pure-noise column with 50,000 distinct values."""
    frame, kinds, truth = drift_frame(50_000)
    ids = np.random.default_rng(5).permutation(50_000)
    frame = frame.with_columns(pl.Series("noise_id", [f"id{i}" for i in ids]))
    return frame, {**kinds, "noise_id": "categorical"}, truth


# ----------------------------------------------------------------------------- encoding


def test_encoding_bins_numbers_codes_categories_and_gives_missing_its_own_code():
    frame = pl.DataFrame({
        "x": [float(i) for i in range(100)] + [None],
        "few": [float(i % 3) for i in range(101)],
        "c": ["a", "b", None, "a"] * 25 + ["c"],
        "flag": [True, False] * 50 + [None],
    })
    encoded = encode_features(frame, {"x": "numeric", "few": "numeric", "c": "categorical",
                                      "flag": "boolean"}, bins=10)
    x, few, c, flag = encoded.codes
    assert x.dtype == np.uint8
    assert np.bincount(x[:100]).tolist() == [10] * 10  # equal-frequency bins
    assert x[100] == encoded.cardinalities[0] - 1 == 10  # missing: the last code
    assert sorted(set(few.tolist())) == [0, 1, 2]  # few distinct values: one code each
    assert c[2] == encoded.cardinalities[2] - 1 and len(set(c.tolist())) == 4
    assert c[0] == c[3] != c[1]
    assert flag[100] == 2 and flag[0] != flag[1]
    assert encoded.n_missing.tolist() == [1, 0, 25, 1]


def test_encoding_errors():
    frame = pl.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(TabbenchError, match="bins must be between 2 and 65535, got 1"):
        encode_features(frame, {"x": "numeric"}, bins=1)
    with pytest.raises(TabbenchError, match="not in the table: 'y'"):
        encode_features(frame, {"y": "numeric"})


def test_combined_codes_are_exact_dense_or_compacted():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 7, 500), rng.integers(0, 11, 500)
    codes, card = combine_codes(a, 7, b, 11)
    assert card == 77 and np.array_equal(codes, a * 11 + b)
    big_a, big_b = rng.integers(0, 5000, 500), rng.integers(0, 3000, 500)
    codes, card = combine_codes(big_a, 5000, big_b, 3000)  # 15M cells: renumbered
    pairs = set(zip(big_a.tolist(), big_b.tolist(), strict=True))
    assert card == len(pairs) and int(codes.max()) == card - 1
    assert mutual_information(codes, a) == pytest.approx(
        mutual_info_score(a, big_a * 3000 + big_b), abs=1e-12)


# ----------------------------------------------------------------------------- MI


@pytest.mark.parametrize("card", [2, 33, 1000, 20_000])
@pytest.mark.parametrize("n_classes", [2, 5])
def test_plain_mi_equals_sklearn_on_the_codes(card, n_classes):
    rng = np.random.default_rng(card + n_classes)
    a = rng.integers(0, card, 20_000)
    t = (a % n_classes + (rng.random(20_000) < 0.6) * rng.integers(0, n_classes, 20_000)) \
        % n_classes
    expected = mutual_info_score(t, a)
    assert mutual_information(a, t) == pytest.approx(expected, abs=1e-12)
    mi, null = MIEstimator(t, n_classes).mi(a, card, corrected=False)
    assert mi == pytest.approx(expected, abs=1e-12) and null is None


def test_plain_mi_of_ranking_equals_sklearn_on_the_encoded_columns():
    frame, kinds, _ = drift_frame(3000)
    y = frame["target"].to_numpy()
    ranking = rank_table(frame, kinds, y, "binary", method="mi", quality=False)
    encoded = encode_features(frame, kinds)
    target, _ = encode_target(y, "binary")
    by_name = dict(zip(ranking.features["feature"], ranking.features["mi"], strict=True))
    for name, codes in zip(encoded.names, encoded.codes, strict=True):
        assert by_name[name] == pytest.approx(mutual_info_score(target, codes), abs=1e-12)


def test_corrected_mi_removes_the_chance_level_of_a_feature():
    rng = np.random.default_rng(1)
    t = rng.integers(0, 2, 10_000)
    noise = rng.integers(0, 5000, 10_000)
    estimator = MIEstimator(t, 2, permutations=5, seed=0)
    mi, null = estimator.mi(noise, 5000, corrected=True)
    assert mi > 0.2  # plain MI of pure noise with 5,000 levels is large...
    assert abs(mi - null) < 0.01  # ...and almost all of it is chance
    again = MIEstimator(t, 2, permutations=5, seed=0).mi(noise, 5000, corrected=True)
    assert again == (mi, null)  # seeded


def test_corrected_ranking_top_is_exactly_the_informative_set(with_noise_id):
    frame, kinds, truth = with_noise_id
    informative = set(truth["informative"])
    ranking = rank_table(frame, kinds, frame["target"].to_numpy(), "binary",
                         method="mi-corrected", quality=False)
    assert set(ranking.top(len(informative))) == informative
    order = ranking.features["feature"].to_list()
    assert order.index("noise_id") > max(order.index(f) for f in informative)
    noise = ranking.features.filter(pl.col("feature") == "noise_id")
    assert noise["score"][0] == pytest.approx(0.0, abs=1e-3)
    assert noise["mi"][0] == pytest.approx(ranking.target_entropy)  # every value unique


def test_plain_mi_ranks_the_high_cardinality_noise_first(with_noise_id):
    frame, kinds, _ = with_noise_id
    ranking = rank_table(frame, kinds, frame["target"].to_numpy(), "binary", method="mi",
                         quality=False)
    assert ranking.top(1) == ["noise_id"]


@pytest.mark.parametrize("method", ["3mr", "jmi"])
def test_greedy_selection_takes_one_of_two_duplicated_features(method):
    frame, kinds, truth = drift_frame(20_000)
    frame = frame.with_columns(pl.col("inf_0").alias("inf_0_copy"), constant=pl.lit(1.0))
    kinds = {**kinds, "inf_0_copy": "numeric", "constant": "numeric"}
    informative = set(truth["informative"])
    ranking = rank_table(frame, kinds, frame["target"].to_numpy(), "binary", method=method,
                         quality=False)
    top = ranking.top(len(informative))
    assert len({"inf_0", "inf_0_copy"} & set(top)) == 1
    assert set(top) - {"inf_0_copy"} | {"inf_0"} == informative
    last_two = set(ranking.top(len(kinds))[-2:])  # the copy and the constant come last
    assert last_two in ({"inf_0", "constant"}, {"inf_0_copy", "constant"})
    corrected = rank_table(frame, kinds, frame["target"].to_numpy(), "binary", quality=False)
    assert {"inf_0", "inf_0_copy"} <= set(corrected.top(len(informative)))  # MI keeps both


def _heldout_by_rows(codes, target, n_classes, folds, weight):
    """Held-out information the slow way: every row predicted from the other blocks."""
    n = len(target)
    bounds = np.linspace(0, n, folds + 1).astype(int)
    total = 0.0
    for a, b in itertools.pairwise(bounds.tolist()):
        rest = np.r_[0:a, b:n]
        prior = (np.bincount(target[rest], minlength=n_classes) + 1) / (len(rest) + n_classes)
        for i in range(a, b):
            same = rest[codes[rest] == codes[i]]
            hits = np.count_nonzero(target[same] == target[i])
            p = (hits + weight * prior[target[i]]) / (len(same) + weight)
            total += math.log(p) - math.log(prior[target[i]])
    return total / n


@pytest.mark.parametrize("n_classes", [2, 3])
def test_heldout_information_equals_a_row_by_row_computation(n_classes):
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 6, 300)
    target = (codes + rng.integers(0, 2, 300)) % n_classes
    for folds, weight in [(2, 1.0), (5, 10.0)]:
        expected = _heldout_by_rows(codes, target, n_classes, folds, weight)
        got = heldout_information(codes, 6, target, n_classes, folds=folds, prior_weight=weight)
        assert got == pytest.approx(expected, abs=1e-12)


def test_heldout_ranking_keeps_lasting_information_and_drops_ids_and_flipping_relations(
        with_noise_id):
    frame, kinds, truth = with_noise_id
    lasting = set(truth["informative"]) - set(truth["drifting"])
    ranking = rank_table(frame, kinds, frame["target"].to_numpy(), "binary",
                         method="mi-heldout", quality=False)
    assert set(ranking.top(len(lasting))) == lasting  # the 1,000-level hicard_0 included
    scores = dict(zip(ranking.features["feature"], ranking.features["score"], strict=True))
    assert scores["noise_id"] == pytest.approx(0.0, abs=1e-12)  # no id recurs in a block
    # the drifting column's coefficient flips sign at 70% of the rows: in-sample MI sees
    # a relation, the later blocks are predicted worse than by the target frequencies
    corrected = dict(zip(ranking.features["feature"], ranking.features["mi_corrected"],
                         strict=True))
    assert corrected["drifting"] > 0.003 and scores["drifting"] < 0
    assert ranking.top(len(kinds))[-1] == "drifting"


def test_interactions_find_a_pair_that_only_matters_jointly():
    rng = np.random.default_rng(2)
    a, b, c = (rng.integers(0, 2, 4000) for _ in range(3))
    frame = pl.DataFrame({"a": a, "b": b, "c": c, "y": a ^ b})
    kinds = {"a": "categorical", "b": "categorical", "c": "categorical"}
    ranking = rank_table(frame, kinds, frame["y"].to_numpy(), "binary", interactions=3,
                         max_combinations=10)
    pairs, triples = (ranking.interactions.filter(pl.col("order") == k) for k in (2, 3))
    assert pairs["feature"][0] == "a & b" and pairs.height == 3
    assert pairs["gain"][0] == pytest.approx(math.log(2), abs=0.01)
    assert triples["feature"].to_list() == ["a & b & c"]
    assert ranking.features["score"].max() < 0.01  # alone, neither says anything


@pytest.mark.parametrize("method", ["3mr", "jmi"])
def test_greedy_selection_stopped_at_k_keeps_the_top_k_and_ranks_every_feature(method):
    frame, kinds, _ = drift_frame(20_000)
    frame = frame.with_columns(constant=pl.lit(1.0))
    kinds = {**kinds, "constant": "numeric"}
    y = frame["target"].to_numpy()
    full = rank_table(frame, kinds, y, "binary", method=method, quality=False)
    for k in (1, 4, 7):
        early = rank_table(frame, kinds, y, "binary", method=method, quality=False,
                           greedy_steps=k)
        assert early.top(k) == full.top(k)
        features = early.features
        assert sorted(features["feature"]) == sorted(kinds)
        assert features["score"].is_finite().all()
        assert early.top(len(kinds))[-1] == "constant"  # still deferred to the end
        assert early.params["greedy_steps"] == k
    with pytest.raises(TabbenchError, match="greedy_steps must be at least 1, got 0"):
        rank_table(frame, kinds, y, "binary", method=method, greedy_steps=0)


@pytest.mark.parametrize("method", ["3mr", "jmi"])
def test_a_constant_is_never_picked_first_even_when_every_feature_scores_below_chance(method):
    rng = np.random.default_rng(4)  # a seed where both noise columns fall below chance
    n = 300
    frame = pl.DataFrame({"c": np.zeros(n), "n1": rng.integers(0, 40, n),
                          "n2": rng.integers(0, 40, n)})
    kinds = {"c": "numeric", "n1": "categorical", "n2": "categorical"}
    y = rng.integers(0, 2, n)
    corrected = rank_table(frame, kinds, y, "binary", quality=False)
    assert corrected.top(1) == ["c"]  # noise below its chance level: the constant's 0 wins
    ranking = rank_table(frame, kinds, y, "binary", method=method, quality=False)
    assert ranking.top(3)[-1] == "c"


@pytest.mark.parametrize("method", ["3mr", "jmi"])
def test_on_few_rows_a_second_informative_number_beats_a_useless_category(method):
    # 1,500 rows, 4 classes: the exact table of two 32-bin numbers has 4,224 cells, where
    # any pair's MI saturates; merged bins keep the pair terms meaningful
    rng = np.random.default_rng(1)
    n = 1500
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = np.select([x1 + 0.5 * x2 > 0.7, x1 - x2 < -0.5, x1 > 1.5], [0, 1, 2], 3)
    frame = pl.DataFrame({"x1": x1, "x2": x2, "region": rng.choice(list("nsew"), n),
                          "count": rng.poisson(3, n)})
    kinds = {"x1": "numeric", "x2": "numeric", "region": "categorical", "count": "numeric"}
    ranking = rank_table(frame, kinds, y, "multiclass", method=method, quality=False)
    assert ranking.top(2) == ["x1", "x2"]


def test_jmi_takes_a_feature_that_informs_only_jointly_with_the_selected_one():
    rng = np.random.default_rng(4)
    n = 20_000
    a, b, c = (rng.integers(0, 2, n) for _ in range(3))
    logit = 2.0 * (a ^ b) + 0.6 * a + 0.4 * c - 1.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pl.DataFrame({"a": a, "b": b, "c": c})
    kinds = dict.fromkeys(frame.columns, "categorical")
    corrected = rank_table(frame, kinds, y, "binary", quality=False)
    jmi = rank_table(frame, kinds, y, "binary", method="jmi", quality=False)
    assert corrected.top(3) == ["a", "c", "b"]  # alone, b says the least
    assert jmi.top(3) == ["a", "b", "c"]  # with a, b says the most
    scores = dict(zip(jmi.features["feature"], jmi.features["score"], strict=True))
    pair = rank_table(frame.with_columns(ab=pl.Series(2 * a + b)), {"ab": "categorical"}, y,
                      "binary", quality=False)
    assert scores["b"] == pytest.approx(pair.features["score"][0], rel=1e-9)  # MI(a, b; y)
    assert scores["a"] == pytest.approx(corrected.features["score"][0], rel=1e-9)


# ----------------------------------------------------------------------------- rankers


@pytest.mark.parametrize("method", RANKERS.names())
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_ranker_ranks_every_feature_deterministically(method, task):
    rng = np.random.default_rng(3)
    n = 1500
    x = rng.standard_normal(n)
    y = {"binary": (x > 0).astype(int), "multiclass": np.digitize(x, [-0.5, 0.5]),
         "regression": x + 0.1 * rng.standard_normal(n)}[task]
    frame = pl.DataFrame({"noise": rng.standard_normal(n), "signal": x + rng.standard_normal(n),
                          "level": rng.choice(["u", "v", "w"], n), "flag": rng.random(n) < 0.5})
    kinds = {"noise": "numeric", "signal": "numeric", "level": "categorical",
             "flag": "boolean"}
    first = rank_table(frame, kinds, y, task, method=method, quality=False)
    second = rank_table(frame, kinds, y, task, method=method, quality=False)
    assert first.table.equals(second.table)
    features = first.features
    assert sorted(features["feature"]) == sorted(kinds)
    assert features["rank"].to_list() == [1, 2, 3, 4]
    assert features["score"].is_finite().all()
    assert first.top(1) == ["signal"]
    assert first.method == method
    with pytest.raises(TabbenchError, match=r"top_k must be between 1 and .*\(4\), got 5"):
        first.top(5)


def test_ranker_errors():
    frame = pl.DataFrame({"x": [1.0, 2.0, 3.0]})
    y = np.array([0, 1, 0])
    with pytest.raises(UnknownNameError, match="unknown ranker 'pagerank'; valid names are: "
                                               "3mr, jmi, mi, mi-corrected"):
        rank_table(frame, {"x": "numeric"}, y, "binary", method="pagerank")
    with pytest.raises(TabbenchError, match="interactions must be 1, 2 or 3, got 4"):
        rank_table(frame, {"x": "numeric"}, y, "binary", interactions=4)


# ----------------------------------------------------------------------------- quality


def test_quality_flags():
    n = 200
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, n)
    frame = pl.DataFrame({
        "ok": rng.standard_normal(n),
        "constant": np.ones(n),
        "mostly_zero": np.where(np.arange(n) == 0, 1.0, 0.0),
        "sparse": [1.0] * 5 + [None] * (n - 5),
        "copy": None,
        "row_id": np.arange(n),
        "leak": y.astype(float),
        "y": y,
    }).with_columns(pl.col("ok").alias("copy"))
    kinds = {c: "numeric" for c in frame.columns if c != "y"}
    ranking = rank_table(frame, kinds, y, "binary")
    flags = dict(zip(ranking.features["feature"], ranking.features["flags"], strict=True))
    assert flags == {"ok": "", "constant": "constant", "mostly_zero": "quasi-constant",
                     "sparse": "constant,low-coverage", "copy": "duplicate",
                     "row_id": "id-like", "leak": "leak"}
    row = ranking.features.filter(pl.col("feature") == "copy").row(0, named=True)
    assert row["duplicate_of"] == "ok" and row["coverage"] == 1.0
    sparse = ranking.features.filter(pl.col("feature") == "sparse").row(0, named=True)
    assert sparse["coverage"] == pytest.approx(0.025) and sparse["cardinality"] == 1
    assert ranking.features.filter(pl.col("feature") == "mostly_zero")["majority_share"][0] \
        == pytest.approx(199 / 200)


def test_quality_report_on_its_own():
    frame = pl.DataFrame({"a": ["x", "y", "x", None], "b": ["x", "y", "x", None]})
    report = quality_report(frame, {"a": "categorical", "b": "categorical"})
    assert report["cardinality"].to_list() == [2, 2]
    assert report["coverage"].to_list() == [0.75, 0.75]
    assert report["duplicate_of"].to_list() == [None, "a"]
