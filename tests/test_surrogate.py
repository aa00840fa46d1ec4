"""Surrogate interpreters: a conformance suite for every surrogate kind, and the pipeline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tabbench.exceptions import TabbenchError, UnknownNameError
from tabbench.studies.explain import (
    SURROGATES,
    Surrogate,
    explain_dataset,
    explain_model,
    feature_space,
    fidelity,
    fidelity_kappa,
    fit_surrogate,
    importance_table,
    make_surrogate,
    surrogate_names,
)
from tabbench.studies.explain.conditions import Condition, conjunction

KINDS = surrogate_names()
TASKS = ("binary", "multiclass", "regression")
INFORMATIVE = ("x_007", "x_123", "x_401")  # the features of the known tree below
CITIES = ["Berlin", "Lima", "Oslo", "Perth", "Quito"]


# --- data ------------------------------------------------------------------------------------


def tree_table(n_rows: int = 3000, n_features: int = 500, noise: float = 0.05,
               seed: int = 0) -> pl.DataFrame:
    """Standard-normal features ``x_000…``; ``target`` from a known depth-3 tree over three.

    The tree splits on ``x_007`` at the root, then on ``x_123`` (left) or ``x_401`` (right),
    then once more on each side; a share ``noise`` of the labels is flipped.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, n_features))
    a, b, c = (X[:, int(name[2:])] for name in INFORMATIVE)
    left = np.where(b <= 0.5, c <= 0.0, a <= -1.0)
    right = np.where(c <= -0.5, b <= -0.5, b > 1.0)
    target = np.where(a <= 0.0, left, right).astype(np.int8)
    flip = rng.random(n_rows) < noise
    target = np.where(flip, 1 - target, target)
    columns = {f"x_{j:03d}": X[:, j] for j in range(n_features)}
    return pl.DataFrame({**columns, "target": target})


def register(tmp_path: Path, name: str, frame: pl.DataFrame, *, task: str,
             categorical: tuple[str, ...] = ()) -> Path:
    """Write ``frame`` and its registry TOML into ``tmp_path/datasets``; return the folder."""
    folder = tmp_path / "datasets"
    folder.mkdir(exist_ok=True)
    frame.write_parquet(folder / f"{name}.parquet")
    cats = ", ".join(f'"{c}"' for c in categorical)
    (folder / f"{name}.toml").write_text(
        f'name = "{name}"\ntask = "{task}"\ntarget = "target"\npath = "{name}.parquet"\n'
        f"categorical = [{cats}]\n")
    return folder


def small_table(task: str, n_rows: int = 600, seed: int = 1) -> pl.DataFrame:
    """A small table with a named categorical, missing numbers and a task-shaped target."""
    rng = np.random.default_rng(seed)
    hour = rng.uniform(0, 24, n_rows)
    temp = rng.normal(15, 8, n_rows)
    temp[rng.random(n_rows) < 0.1] = np.nan  # written as nulls (missing), not NaN
    city = rng.choice(CITIES, n_rows)
    noise = rng.normal(0, 1, n_rows)
    latent = (hour > 16) * 2.0 + np.isin(city, ["Lima", "Quito"]) * 1.5 \
        + np.nan_to_num(temp - 15) / 8 - 1.5
    if task == "binary":
        target = pl.Series((latent > 0).astype(np.int8))
    elif task == "multiclass":
        target = pl.Series(np.digitize(latent, [-0.5, 1.0]).astype(np.int64))
    else:
        target = pl.Series(latent + 0.1 * noise)
    return pl.DataFrame({"hour": hour, "temp": pl.Series(temp).fill_nan(None), "city": city,
                         "noise": noise, "target": target})


def _matrix(task: str, seed: int = 1) -> tuple[np.ndarray, np.ndarray, dict[str, list[str]]]:
    """The small table as an interpretable matrix (city coded 0..4) and its target."""
    frame = small_table(task, seed=seed)
    codes = frame["city"].replace_strict(CITIES, list(range(len(CITIES)))).to_numpy()
    X = np.column_stack([frame["hour"], frame["temp"], codes, frame["noise"]]).astype(float)
    return X, frame["target"].to_numpy(), {"city": CITIES}


NAMES = ("hour", "temp", "city", "noise")
N_CLASSES = {"binary": 2, "multiclass": 3, "regression": 0}


# --- conformance suite: every registered surrogate kind ----------------------------------------


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.mark.parametrize("task", TASKS)
def test_surrogate_fit_predict_shapes_and_fidelity(kind: str, task: str) -> None:
    X, target, _ = _matrix(task)
    surrogate = make_surrogate(kind, task=task, n_classes=N_CLASSES[task], categorical=[2])
    assert surrogate.fit(X[:400], target[:400]) is surrogate
    prediction = surrogate.predict(X[400:])
    assert prediction.shape == (200,)
    if task == "regression":
        with pytest.raises(AttributeError, match="only available for classification"):
            surrogate.predict_proba(X[400:])
    else:
        proba = surrogate.predict_proba(X[400:])
        assert proba.shape == (200, N_CLASSES[task])
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        np.testing.assert_array_equal(prediction, proba.argmax(axis=1))
    score = fidelity(task, target[400:], prediction)
    assert 0.0 <= score <= 1.0
    assert score > 0.6  # every kind beats chance on this easy target
    assert surrogate.n_rules_ >= 1
    assert surrogate.depth_ >= 1


@pytest.mark.parametrize("task", TASKS)
def test_surrogate_text_uses_feature_names_and_category_names(kind: str, task: str) -> None:
    X, target, vocab = _matrix(task)
    labels = ["low", "mid", "high"][:N_CLASSES[task]] or None
    surrogate = make_surrogate(kind, task=task, n_classes=N_CLASSES[task], categorical=[2],
                               size=SURROGATES.get(kind).default_size,
                               class_names=labels).fit(X, target)
    text = surrogate.rules_text(NAMES, vocab)
    assert text.strip()
    assert "hour" in text
    if labels is not None:  # classes by label, never as codes
        assert any(f"class {label}" in text for label in labels)
        assert "class 0" not in text and "class 1" not in text
    assert any(city in text for city in CITIES)  # categories by name, never as codes
    assert "city in {0" not in text and "city = 0" not in text
    row = surrogate.explain_row(X[0], NAMES, vocab)
    assert row.strip()
    assert any(name in row for name in NAMES)


def test_surrogate_is_deterministic(kind: str) -> None:
    X, target, vocab = _matrix("binary")
    fits = [make_surrogate(kind, task="binary", n_classes=2, categorical=[2], seed=3)
            .fit(X, target) for _ in range(2)]
    np.testing.assert_array_equal(fits[0].predict_proba(X), fits[1].predict_proba(X))
    assert fits[0].rules_text(NAMES, vocab) == fits[1].rules_text(NAMES, vocab)
    assert fits[0].explain_row(X[5], NAMES, vocab) == fits[1].explain_row(X[5], NAMES, vocab)


def test_surrogate_handles_missing_values_and_unseen_categories(kind: str) -> None:
    X, target, vocab = _matrix("binary")
    surrogate = make_surrogate(kind, task="binary", n_classes=2, categorical=[2]).fit(X, target)
    odd = X[:3].copy()
    odd[0, 0] = np.nan  # missing hour (never missing in training)
    odd[1, 2] = 17.0    # a category code the surrogate never saw
    odd[2, 2] = np.nan
    assert surrogate.predict(odd).shape == (3,)
    assert surrogate.explain_row(odd[1], NAMES, vocab)


def test_surrogate_rejects_bad_targets(kind: str) -> None:
    X, target, _ = _matrix("binary")
    surrogate = make_surrogate(kind, task="binary", n_classes=2)
    with pytest.raises(ValueError, match=r"class codes must lie in 0\.\.1"):
        surrogate.fit(X, target + 5)
    with pytest.raises(ValueError, match="one row per target"):
        surrogate.fit(X, target[:10])


def test_fit_surrogate_picks_the_smallest_nearly_best_size(kind: str) -> None:
    X, target, _ = _matrix("binary")
    surrogate, sizes = fit_surrogate(kind, X[:400], target[:400], X[400:], target[400:],
                                     task="binary", n_classes=2, categorical=[2])
    assert sizes.columns == ["size", "fidelity", "kappa", "n_rules", "depth", "chosen"]
    assert sizes["chosen"].sum() == 1
    chosen = sizes.filter(pl.col("chosen")).row(0, named=True)
    # classification: the size is chosen by kappa, which a constant cannot win
    assert chosen["kappa"] >= sizes["kappa"].max() - 0.005
    earlier = sizes.head(sizes["chosen"].arg_max())
    assert (earlier["kappa"] < sizes["kappa"].max() - 0.005).all()
    assert float(surrogate.size) == chosen["size"]


def test_unknown_surrogate_kind_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownNameError, match="unknown surrogate 'forest'; valid names are: "
                                               "boosted-trees, linear, random-forest, rules, "
                                               "tree"):
        make_surrogate("forest", task="binary")


def test_every_kind_is_registered_whichever_module_is_imported_first() -> None:
    # the families register on import of the package, so the base module alone sees them
    code = ("from tabbench.studies.explain.surrogate import surrogate_names; "
            "print(' '.join(surrogate_names()))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == ["tree", "rules", "linear", "random-forest", "boosted-trees"]


# --- pieces ------------------------------------------------------------------------------------


def test_conditions_merge_tests_on_one_feature() -> None:
    hour = Condition(0, show_missing=True)
    hour.narrow(left=False, threshold=6.5, missing_left=True)
    hour.narrow(left=True, threshold=14.5, missing_left=True)
    city = Condition(1, codes=frozenset({1, 4}))
    text = conjunction({0: hour, 1: city}, ["hour", "city"], {"city": CITIES})
    assert text == "6.5 < hour <= 14.5 AND city in {Lima, Quito}"
    hour.missing = True
    many = Condition(1, codes=frozenset({0, 1, 2, 3}))
    assert conjunction({0: hour, 1: many}, ["hour", "city"], {"city": CITIES}) == \
        "(6.5 < hour <= 14.5 or missing) AND city not in {Quito}"


def test_feature_space_maps_codes_back_to_categories() -> None:
    from tabbench.methods.preprocess import make_preprocessor

    frame = pl.DataFrame({"city": ["Oslo", None, "Berlin", "Oslo", "Lima"],
                          "x": [1.0, 2.0, None, 4.0, 5.0]})
    features = {"city": "categorical", "x": "numeric"}
    pre = make_preprocessor("gbdt").fit(frame, features)
    space = feature_space(pre, frame, features)
    assert space.vocab() == {"city": ["Berlin", "Lima", "Oslo"]}
    Z = pre.transform(frame)
    decoded = space.decode(Z)
    assert decoded["city"].to_list() == frame["city"].to_list()
    assert decoded["x"].to_list() == frame["x"].to_list()
    np.testing.assert_array_equal(pre.transform(decoded), Z)


def test_importance_table_orders_by_mean_rank_and_puts_unpermuted_last() -> None:
    # permutation ranks b, d, a; native ranks (among the permuted) a, b, d; c not permuted
    table = importance_table(["a", "b", "c", "d"], np.array([0.1, 0.3, np.nan, 0.2]),
                             np.array([0.9, 0.5, 5.0, 0.05]))
    assert table["feature"].to_list() == ["b", "a", "d", "c"]
    assert table["rank"].to_list() == [1, 2, 3, 4]
    assert table["permutation_importance"].null_count() == 1


def test_fast_binary_auc_equals_the_metric() -> None:
    from tabbench.data.metrics import score
    from tabbench.studies.explain.importance import _binary_auc

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = np.round(rng.random(300), 1)  # many ties
    assert _binary_auc(y, p) == pytest.approx(score("roc_auc", y, p), abs=1e-12)


# --- the pipeline --------------------------------------------------------------------------------


def _load(folder: Path, name: str):
    from tabbench.data.datasets.registry import get_spec
    from tabbench.data.datasets.sample import load_subsample
    from tabbench.data.splits import find_split

    dataset = load_subsample(get_spec(name, [folder]), None)
    return dataset, find_split(dataset, None)


@pytest.mark.slow
def test_known_tree_is_recovered_from_a_gradient_boosting_black_box(tmp_path: Path) -> None:
    """The Done-when test: 3 informative of 500 features, LightGBM, top-10, fidelity >= 0.95."""
    folder = register(tmp_path, "known-tree", tree_table(), task="binary")
    dataset, split = _load(folder, "known-tree")
    explanation = explain_model(dataset, split, "lightgbm", kind="tree", top_k=10)
    assert set(INFORMATIVE) <= set(explanation.features)
    assert explanation.importances.height == 500
    assert explanation.row["metric_fidelity"] >= 0.95
    assert explanation.row["metric_fidelity_auc"] > 0.9
    used = {name for name in INFORMATIVE if name in explanation.rules}
    assert used == set(INFORMATIVE)


def test_explain_model_covers_other_families_and_the_prefilter(tmp_path: Path) -> None:
    folder = register(tmp_path, "small", small_table("binary"), task="binary",
                      categorical=("city",))
    dataset, split = _load(folder, "small")
    # a classic-family black box: permuted through the decoded frame, no native contributions
    linear = explain_model(dataset, split, "linear", kind="rules", top_k=3, row=0)
    assert linear.importances["native_contribution"].null_count() == 4
    assert linear.row["model"] == "surrogate:linear"
    assert linear.row["variant"] == "rules"
    assert "why (the surrogate)" in linear.local
    # a booster on a "wide" table: only the gain shortlist is permuted
    boosted = explain_model(dataset, split, "lightgbm", kind="linear", top_k=2,
                            prefilter_above=3, prefilter_keep=2)
    assert boosted.importances["permutation_importance"].null_count() == 2
    assert boosted.importances["native_contribution"].null_count() == 0
    assert len(boosted.features) == 2


@pytest.mark.parametrize("model", ["xgboost", "lightgbm", "catboost"])
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_native_contributions_of_every_booster(tmp_path: Path, model: str, task: str) -> None:
    folder = register(tmp_path, "small", small_table(task), task=task, categorical=("city",))
    dataset, split = _load(folder, "small")
    explanation = explain_model(dataset, split, model, params={"n_estimators": 10}, top_k=2,
                                n_repeats=1)
    native = explanation.importances.sort("feature")["native_contribution"].to_numpy()
    assert native.shape == (4,) and np.isfinite(native).all() and native.sum() > 0
    assert set(explanation.features) <= {"hour", "city", "temp"}  # never the pure noise


def test_explain_model_rejects_bad_options(tmp_path: Path) -> None:
    folder = register(tmp_path, "small", small_table("regression"), task="regression",
                      categorical=("city",))
    dataset, split = _load(folder, "small")
    # library errors start with the parameter (the CLI writes it as the flag)
    with pytest.raises(TabbenchError, match=r"^top_k must be at least 1, got 0") as error:
        explain_model(dataset, split, "lightgbm", top_k=0)
    assert error.value.parameter == "top_k"
    with pytest.raises(TabbenchError, match=r"^row must be a row of the test part, 0 to 119") \
            as error:
        explain_model(dataset, split, "lightgbm", row=120)
    assert error.value.parameter == "row"
    with pytest.raises(UnknownNameError, match=r"^kind: unknown surrogate 'forest'") as error:
        explain_model(dataset, split, "lightgbm", kind="forest")
    assert error.value.parameter == "kind"
    with pytest.raises(UnknownNameError, match=r"^model: unknown model 'gpt'") as error:
        explain_model(dataset, split, "gpt")
    assert error.value.parameter == "model"


def test_explain_dataset_rejects_bad_options(tmp_path: Path) -> None:
    folder = register(tmp_path, "small", small_table("regression"), task="regression")
    with pytest.raises(TabbenchError, match=r"^max_rows must be at least 1, got 0") as error:
        explain_dataset("small", "lightgbm", max_rows=0, out=tmp_path / "run",
                        datasets_dirs=[folder])
    assert error.value.parameter == "max_rows"
    (tmp_path / "file").write_text("")
    with pytest.raises(TabbenchError, match="cannot use it as the run folder: "):
        explain_dataset("small", "lightgbm", out=tmp_path / "file", datasets_dirs=[folder])


def test_explain_dataset_writes_row_and_files_and_reads_tuned_params(tmp_path: Path) -> None:
    from tabbench.core.results import read_results, write_result

    folder = register(tmp_path, "small", small_table("regression"), task="regression",
                      categorical=("city",))
    out = tmp_path / "run"
    first = explain_dataset("small", "lightgbm", kind="tree", top_k=3, row=2, out=out,
                            datasets_dirs=[folder])
    assert first.params_source == "default params"
    assert {"result", "rules", "importances", "local"} <= set(first.files)
    assert first.files["rules"].read_text().startswith("# surrogate:lightgbm on small")
    importances = pl.read_parquet(first.files["importances"])
    assert importances.columns == ["feature", "permutation_importance", "native_contribution",
                                   "rank"]
    row = read_results(out).row(0, named=True)
    assert row["model"] == "surrogate:lightgbm" and row["variant"] == "tree"
    assert row["metric"] == "rmse" and row["status"] == "ok"
    assert row["metric_fidelity"] > 0.8
    assert row["metric_n_rules"] >= 2 and row["metric_depth"] >= 1
    assert row["kind"] == "surrogate"
    assert row["metric_fidelity_auc"] is None  # declared for every row; binary tasks only
    # the same explanation again: the same job id (the file is replaced)
    again = explain_dataset("small", "lightgbm", kind="tree", top_k=3, out=out,
                            datasets_dirs=[folder])
    assert again.row["job_id"] == first.row["job_id"]
    assert again.rules == first.rules
    # a tuned row of the black box in the run folder: its params are used
    tuned = {**{k: first.row[k] for k in ("dataset", "dataset_fingerprint", "task",
                                          "split_strategy", "split_id", "metric")},
             "run": "run", "kind": "benchmark", "job_id": "small-tuned-lightgbm",
             "model": "lightgbm",
             "variant": "tuned", "seed": 0, "status": "ok",
             "best_params": json.dumps({"n_estimators": 7, "num_leaves": 4})}
    write_result(out, tuned, None)
    third = explain_dataset("small", "lightgbm", kind="tree", top_k=3, out=out,
                            datasets_dirs=[folder])
    assert "small-tuned-lightgbm" in third.params_source
    assert json.loads(third.row["best_params"])["black_box"] == {"n_estimators": 7,
                                                                 "num_leaves": 4}
    assert third.row["job_id"] != first.row["job_id"]


def test_cli_explain_prints_fidelity_and_rules(tmp_path: Path, cli) -> None:
    folder = register(tmp_path, "small", small_table("binary"), task="binary",
                      categorical=("city",))
    out = tmp_path / "run"
    code, stdout, stderr = cli("explain", "--dataset", "small", "--model", "lightgbm",
                               "--top-k", "3", "--surrogate", "rules", "--row", "1",
                               "--out", out, "--datasets-dir", folder)
    assert code == 0, stderr
    assert "fidelity" in stdout and "rule 1:" in stdout
    # the chance-corrected fidelity is the first measure, plain agreement beside it
    measures = [line for line in stdout.splitlines() if "fidelity on" in line]
    assert "kappa" in measures[0] and "agreement" in measures[1]
    rules = (out / "explain" / "small-random-0-lightgbm" / "rules.txt").read_text()
    assert "# test fidelity kappa " in rules
    assert "why (the surrogate)" in stdout
    assert (out / "explain" / "small-random-0-lightgbm" / "local.txt").exists()
    code, _, stderr = cli("explain", "--dataset", "small", "--model", "lightgbm",
                          "--surrogate", "forest", "--out", out, "--datasets-dir", folder)
    assert code == 2
    assert "--surrogate: unknown surrogate 'forest'" in stderr  # the parameter as its flag
    code, _, stderr = cli("explain", "--dataset", "small", "--model", "lightgbm",
                          "--row", "9999", "--out", out, "--datasets-dir", folder)
    assert code == 2
    assert "--row must be a row of the test part" in stderr
    code, _, stderr = cli("explain", "--dataset", "small", "--model", "lightgbm",
                          "--max-rows", "-1", "--out", out, "--datasets-dir", folder)
    assert code == 2
    assert "--max-rows" in stderr and "greater than or equal to 0" in stderr


# --- fidelity a constant cannot win ------------------------------------------------------------


def test_kappa_of_a_constant_is_zero_however_imbalanced() -> None:
    rng = np.random.default_rng(0)
    box = (rng.random(10_000) < 0.02).astype(np.int64)  # the black box: 2% positives
    constant = np.zeros_like(box)
    assert fidelity("binary", box, constant) == pytest.approx(0.98, abs=0.005)
    assert fidelity_kappa(box, constant, 2) == 0.0
    assert fidelity_kappa(box, box, 2) == 1.0
    flipped = np.where(rng.random(box.size) < 0.01, 1 - box, box)  # 1% of the rows wrong
    assert 0.3 < fidelity_kappa(box, flipped, 2) < 0.8  # agreement 0.99 is not near-perfect
    three = rng.choice(3, 5_000, p=[0.9, 0.07, 0.03])
    assert fidelity_kappa(three, np.zeros_like(three), 3) == 0.0
    assert np.isnan(fidelity_kappa(constant, constant, 2))  # both constant: undefined


class _ConstantSurrogate(Surrogate):
    """Always the training majority: the surrogate plain agreement flatters."""

    kind = "constant-for-test"
    default_size = 1

    def sizes(self, n_rows):
        return [1]

    def fit(self, X, target):
        X, target = self._check(X, target)
        self.majority_ = int(np.bincount(target, minlength=self.n_classes).argmax())
        self.n_rules_, self.depth_ = 1, 1
        return self

    def predict_proba(self, X):
        out = np.zeros((len(X), self.n_classes))
        out[:, self.majority_] = 1.0
        return out

    def predict_values(self, X):
        raise AttributeError("classification only")

    def rules_text(self, feature_names, vocab=None):
        return f"class {self.majority_}"

    def explain_row(self, x, feature_names, vocab=None):
        return f"class {self.majority_}"


def test_a_constant_surrogate_scores_about_zero_kappa_on_an_imbalanced_table(
        tmp_path: Path) -> None:
    """The headline of explain: plain agreement ~0.96 for a constant, kappa 0."""
    rng = np.random.default_rng(2)
    n = 3000
    x = rng.standard_normal((n, 3))
    target = ((x[:, 0] > 1.6) | ((x[:, 1] > 2.0) & (x[:, 2] > 0))).astype(np.int8)  # ~6%
    frame = pl.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "target": target})
    folder = register(tmp_path, "rare", frame, task="binary")
    dataset, split = _load(folder, "rare")
    SURROGATES.register(_ConstantSurrogate.kind, _ConstantSurrogate)
    try:
        constant = explain_model(dataset, split, "lightgbm", kind="constant-for-test", top_k=3)
    finally:
        SURROGATES.unregister(_ConstantSurrogate.kind)
    tree = explain_model(dataset, split, "lightgbm", kind="tree", top_k=3)
    row = constant.row
    assert row["metric_fidelity"] > 0.9  # plain agreement: the majority's share
    assert row["metric_fidelity"] == pytest.approx(row["metric_fidelity_baseline"])
    assert abs(row["metric_fidelity_kappa"]) < 0.02
    assert tree.row["metric_fidelity_kappa"] > 0.6  # a real surrogate is far above it
