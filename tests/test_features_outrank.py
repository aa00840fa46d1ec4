"""``outrank`` and ``outrank-3mr``: the ``outrank`` package's scores, and how they differ.

The cross-check against the package itself is ``benchmarks/outrank_crosscheck.py``; it
records the package's scores in ``benchmarks/outrank_reference.json``, which the first
test compares with (the package and its runtime dependencies — numba, flake8, pre-commit, pathos — are not
installed here).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tabbench.methods.features.estimators import mutual_information
from tabbench.methods.features.outrank import MIN_REMAINDER, MINIBATCH, batches, shift_corrected_mi
from tabbench.methods.features.rankers import RANKERS
from tabbench.methods.features.ranking import rank_table

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "outrank_crosscheck.py"


def _crosscheck():
    spec = importlib.util.spec_from_file_location("outrank_crosscheck", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("index", [0, 1], ids=["hotel-rates", "flights-60000"])
def test_scores_and_rankings_match_the_recorded_package(index):
    """Same codes as the package saw: scores within TOLERANCE, the same rankings."""
    crosscheck = _crosscheck()
    table = json.loads(crosscheck.REFERENCE.read_text())["tables"][index]
    assert table["outrank"]["version"].startswith("outrank 0.97.5")
    assert table["outrank_3mr"]["version"].startswith("outrank 0.97.4")
    result = crosscheck.compare_table(table)
    assert result["gap_outrank"] <= crosscheck.TOLERANCE
    assert result["same_outrank_order"]
    assert result["gap_relevance"] <= crosscheck.TOLERANCE
    assert result["gap_redundancy"] <= crosscheck.TOLERANCE
    assert result["same_3mr_order"]


def test_ties_may_be_reordered_but_nothing_else():
    same = _crosscheck().same_up_to_ties
    scores = np.array([1.0, 0.5, 0.0, 0.0])
    assert same(["a", "b", "c", "d"], scores, ["a", "b", "d", "c"])
    assert not same(["a", "b", "c", "d"], scores, ["b", "a", "c", "d"])


def test_shift_correction_is_the_package_formula_on_a_small_table():
    """By hand: class 0 = rows 0, 2, 4 (shift 3), class 1 = rows 1, 3, 5 (shift 3)."""
    feature = np.array([0, 0, 1, 1, 0, 1])
    target = np.array([0, 1, 0, 1, 0, 1])
    # class 0: F = [0, 1, 0] (H = h), shifted rows 3, 5, 1 → F = [1, 1, 0] (H = h)
    # class 1: F = [0, 1, 1] (H = h), shifted rows 4, 0, 2 → F = [0, 0, 1] (H = h)
    assert shift_corrected_mi(feature, 2, target, 2) == pytest.approx(0.0, abs=1e-12)
    # class 1 (row 0) is seen once and skipped, as in the package; class 0 = rows 1, 2
    # (F = [1, 1], H = 0), shifted by 2 → rows 0, 1 (F = [0, 1], H = log 2)
    assert shift_corrected_mi(np.array([0, 1, 1]), 2, np.array([1, 0, 0]), 2) == \
        pytest.approx(2 / 3 * np.log(2))


def test_the_two_nulls_disagree_on_a_trend_in_time_order():
    """A feature that only tracks time, with a target whose rate drifts: a permuted target
    leaves it its MI (mi-corrected), the shifted one takes it away (outrank)."""
    n = 20_000
    rng = np.random.default_rng(0)
    period = np.repeat(np.arange(10), n // 10)        # a trend: the period of the row
    target = (rng.random(n) < np.repeat(np.linspace(0.1, 0.9, 10), n // 10)).astype(np.int64)
    frame = pl.DataFrame({"period": period.astype(np.float64),
                          "noise": rng.normal(size=n)})
    kinds = {"period": "numeric", "noise": "numeric"}
    permuted = rank_table(frame, kinds, target, "binary", method="mi-corrected", quality=False)
    shifted = rank_table(frame, kinds, target, "binary", method="outrank", quality=False)
    plain = mutual_information(period, target)
    by = {m: dict(r.features.select("feature", "score").iter_rows())
          for m, r in (("mi-corrected", permuted), ("outrank", shifted))}
    assert by["mi-corrected"]["period"] > 0.9 * plain
    assert by["outrank"]["period"] < 0.5 * by["mi-corrected"]["period"]


def test_batches_follow_the_package():
    assert batches(MINIBATCH * 2 + MIN_REMAINDER) == [slice(0, MINIBATCH),
                                                      slice(MINIBATCH, 2 * MINIBATCH)]
    assert batches(MINIBATCH + MIN_REMAINDER + 1)[-1] == slice(MINIBATCH,
                                                               MINIBATCH + MIN_REMAINDER + 1)
    assert batches(500) == [slice(0, 500)]  # the package would rank nothing here


def test_outrank_3mr_uses_plain_mi_and_one_normalization():
    """A copy of the best feature: plain-MI redundancy (normalized over all pairs, the
    diagonal included) sends it after an independent weaker feature."""
    rng = np.random.default_rng(1)
    n = 4000
    target = rng.integers(0, 2, n)
    strong = np.where(rng.random(n) < 0.9, target, 1 - target)
    weak = np.where(rng.random(n) < 0.7, target, 1 - target)
    frame = pl.DataFrame({"strong": strong, "copy": strong, "weak": weak,
                          "noise": rng.integers(0, 2, n)}).cast(pl.Float64)
    kinds = dict.fromkeys(frame.columns, "numeric")
    ranking = rank_table(frame, kinds, target, "binary", method="outrank-3mr", quality=False)
    assert ranking.top(4)[:2] == ["strong", "weak"]
    assert ranking.features["score"][0] == 1.0


def test_every_name_is_registered_with_an_honest_description():
    descriptions = {name: RANKERS.get(name).description for name in RANKERS.names()}
    assert "package" in descriptions["outrank"] and "shifted" in descriptions["outrank"]
    assert "plain MI" in descriptions["outrank-3mr"]
    assert "permuted targets" in descriptions["mi-corrected"]
    assert "chance-corrected" in descriptions["3mr"]
