"""Synthetic tables with known ground truth, shaped like TabReD's industrial data.

(Longer than 500 lines: each generator documents its ground truth beside its code.)

TabReD (Rubachev et al., 2024) collects tables from industry: rows arrive over time, the
feature distribution and the feature → target relation both drift, most features are
uninformative or redundant, and some categoricals have thousands of levels. Real tables do
not say which of these effects matter; the generators here do, so splitters, models and
feature rankers can be checked against the truth.

Generators
----------
``drift`` (binary or regression), one row per event, sorted by time:

* ``ts`` — a datetime over two years (2022-01-01 to 2023-12-31), hourly resolution,
  non-decreasing, with repeated timestamps.
* ``inf_0 … inf_{k-1}`` — informative numeric features, standard normal plus a mean that
  moves linearly with time (covariate drift, scaled by ``drift_strength``). They enter the
  latent score linearly with coefficients from 1.0 down to 0.3 and alternating signs, and
  ``inf_0 * inf_1`` adds an interaction.
* ``corr_*`` — noisy linear combinations of two informative features. They have no effect
  of their own, but are correlated with the target through their sources.
* ``uninf_*`` — independent of everything else (normal, log-normal, uniform and count
  distributions), stationary in time.
* ``drifting`` — a standard normal feature whose coefficient goes from +1 to
  ``1 - 2 * drift_strength`` around 70% of the time span (concept drift): a model that
  leans on it does well on a random split and badly on the latest time block.
* ``cat_*`` — low-cardinality strings; ``cat_0`` has a per-level effect, the others none.
* ``hicard_*`` — strings with up to ``cardinality`` levels and Zipf-like frequencies; each
  level has a small random effect (sd 0.5 on the latent score).
* ``target`` — binary: ``Int8`` 0/1 from the latent score plus logistic noise of scale
  ``noise`` (a logistic link), centred at its median so the classes are balanced;
  regression: ``Float64`` latent score plus normal noise of sd ``noise``.

Missing values (``missing_rate``, completely at random) are put into the ``inf_*``,
``corr_*`` and ``uninf_*`` columns after the target is computed.

``blobs`` (multiclass): Gaussian clusters, one per class, in ``x_*`` coordinates, plus
optional ``uninf_*`` noise columns; target ``Int64`` class codes ``0 … n_classes-1``.

Every generator is deterministic in ``(n_rows, seed, params)``; the effects that
:func:`ground_truth` reports do not depend on ``n_rows``.

Examples
--------
>>> from tabbench.data.datasets.synthetic import generate, ground_truth
>>> frame = generate("drift", n_rows=1000, seed=1)
>>> frame.height
1000
>>> ground_truth("drift")["drifting"]
['drifting']
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from tabbench.core._registry import Registry
from tabbench.exceptions import DatasetError

__all__ = ["GENERATORS", "generate", "generator_names", "ground_truth"]

Generator = Callable[..., pl.DataFrame]

GENERATORS: Registry[Generator] = Registry("generator")
_TRUTHS: Registry[Callable[..., dict[str, Any]]] = Registry("generator")

# 2022-01-01T00:00:00 UTC in microseconds, and two years of hours.
_START_US = 1_640_995_200 * 1_000_000
_SPAN_HOURS = 730 * 24
_HOUR_US = 3_600 * 1_000_000
# Fraction of rows that copy the previous row's timestamp (on top of chance collisions).
_REPEAT_FRACTION = 0.05
# Where (fraction of the time span) and how sharply the drifting coefficient switches.
_SWITCH_AT, _SWITCH_WIDTH = 0.7, 0.03
_DRIFTING_COEF = 1.0
_INTERACTION_COEF = 0.5
_LEVEL_EFFECT_SD = 0.5
_CATEGORICAL_LEVELS = (4, 3, 5, 6)


def _register(name: str, truth: Callable[..., dict[str, Any]]) -> Callable[[Generator], Generator]:
    def wrap(fn: Generator) -> Generator:
        GENERATORS.register(name, fn)
        _TRUTHS.register(name, truth)
        return fn

    return wrap


# ----------------------------------------------------------------------------- validation


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        message = f"generator parameter {name!r} must be an integer, got {value!r}"
        raise DatasetError(message)
    if value < minimum:
        message = f"generator parameter {name!r} must be >= {minimum}, got {value!r}"
        raise DatasetError(message)
    return int(value)


def _check_float(
    value: Any, name: str, low: float, high: float | None = None, high_open: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        message = f"generator parameter {name!r} must be a number, got {value!r}"
        raise DatasetError(message)
    value = float(value)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not np.isfinite(value) or value < low or too_high:
        upper = "" if high is None else (f" and < {high}" if high_open else f" and <= {high}")
        message = f"generator parameter {name!r} must be >= {low}{upper}, got {value!r}"
        raise DatasetError(message)
    return value


def _check_choice(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        message = f"generator parameter {name!r} must be one of {', '.join(allowed)}, got {value!r}"
        raise DatasetError(message)
    return value


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Two independent generators: one for the effects (truth), one for the rows."""
    seed = _check_int(seed, "seed", 0)
    truth, rows = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(truth), np.random.default_rng(rows)


def _numeric(name: str, values: np.ndarray, missing: np.ndarray | None = None) -> pl.Series:
    series = pl.Series(name, values)
    if missing is not None and missing.any():
        series = series.scatter(np.flatnonzero(missing), None)
    return series


# ----------------------------------------------------------------------------- drift


def _drift_truth(
    *,
    seed: int = 0,
    n_rows: int = 2000,
    task: str = "binary",
    n_informative: int = 5,
    n_uninformative: int = 10,
    n_correlated: int = 3,
    n_high_cardinality: int = 1,
    cardinality: int = 1000,
    n_categorical: int = 2,
    drift_strength: float = 1.0,
    noise: float = 1.0,
    missing_rate: float = 0.02,
) -> dict[str, Any]:
    """Validate the ``drift`` parameters and return its ground truth (see :func:`ground_truth`)."""
    _check_int(n_rows, "n_rows", 1)
    _check_choice(task, "task", ("binary", "regression"))
    n_inf = _check_int(n_informative, "n_informative", 0)
    n_uninf = _check_int(n_uninformative, "n_uninformative", 0)
    n_corr = _check_int(n_correlated, "n_correlated", 0)
    n_hicard = _check_int(n_high_cardinality, "n_high_cardinality", 0)
    cardinality = _check_int(cardinality, "cardinality", 2)
    n_cat = _check_int(n_categorical, "n_categorical", 0)
    strength = _check_float(drift_strength, "drift_strength", 0.0)
    noise = _check_float(noise, "noise", 0.0)
    missing_rate = _check_float(missing_rate, "missing_rate", 0.0, 1.0, high_open=True)
    if n_corr and not n_inf:
        message = "generator parameter 'n_correlated' needs n_informative >= 1, got n_informative=0"
        raise DatasetError(message)
    rng, _ = _streams(seed)

    inf = [f"inf_{j}" for j in range(n_inf)]
    corr = [f"corr_{j}" for j in range(n_corr)]
    uninf = [f"uninf_{j}" for j in range(n_uninf)]
    cat = [f"cat_{j}" for j in range(n_cat)]
    hicard = [f"hicard_{j}" for j in range(n_hicard)]

    magnitudes = np.linspace(1.0, 0.3, n_inf) if n_inf > 1 else np.ones(n_inf)
    coefficients = {
        c: float((-1) ** j * m) for j, (c, m) in enumerate(zip(inf, magnitudes, strict=True))
    }
    # Mean of inf_j moves from -shift to +shift over the time span.
    shifts = {
        c: strength * (0.75 if j % 2 == 0 else 0.4) * (-1) ** (j // 2) for j, c in enumerate(inf)
    }
    sources = {}
    for j, c in enumerate(corr):
        a, b = inf[j % n_inf], inf[(j + 1) % n_inf]
        weight = float(rng.uniform(0.5, 1.0))
        sources[c] = {a: weight} if a == b else {a: weight, b: float(rng.uniform(-0.6, 0.6))}

    level_effects: dict[str, dict[str, float]] = {}
    level_probabilities: dict[str, dict[str, float]] = {}
    for j, c in enumerate(cat):
        k = _CATEGORICAL_LEVELS[j % len(_CATEGORICAL_LEVELS)]
        levels = [chr(ord("a") + i) for i in range(k)]
        probs = rng.dirichlet(np.full(k, 3.0))
        effects = rng.normal(0.0, 0.6, k) if j == 0 else np.zeros(k)
        effects -= probs @ effects
        level_probabilities[c] = dict(zip(levels, probs.tolist(), strict=True))
        level_effects[c] = dict(zip(levels, effects.tolist(), strict=True))
    width = len(str(cardinality - 1))
    for c in hicard:
        # Zipf-like frequencies over levels whose names do not reveal their rank.
        probs = 1.0 / np.arange(1, cardinality + 1) ** 1.1
        probs /= probs.sum()
        levels = [f"h{i:0{width}d}" for i in rng.permutation(cardinality)]
        effects = rng.normal(0.0, _LEVEL_EFFECT_SD, cardinality)
        effects -= probs @ effects
        level_probabilities[c] = dict(zip(levels, probs.tolist(), strict=True))
        level_effects[c] = dict(zip(levels, effects.tolist(), strict=True))

    informative_cat = cat[:1] + hicard
    return {
        "task": task,
        "target": "target",
        "time_column": "ts",
        "informative": [*inf, "drifting", *informative_cat],
        "uninformative": [*uninf, *cat[1:]],
        "correlated": corr,
        "drifting": ["drifting"],
        "numeric": [*inf, *corr, *uninf, "drifting"],
        "categorical": [*cat, *hicard],
        "high_cardinality": hicard,
        "with_missing": [*inf, *corr, *uninf] if missing_rate > 0 else [],
        "coefficients": coefficients,
        "interactions": (
            [{"columns": ["inf_0", "inf_1"], "coefficient": _INTERACTION_COEF}]
            if n_inf >= 2
            else []
        ),
        "drifting_coefficient": {
            "start": _DRIFTING_COEF,
            "end": _DRIFTING_COEF * (1.0 - 2.0 * strength),
            "switch_at": _SWITCH_AT,
        },
        "covariate_shift": shifts,
        "correlated_sources": sources,
        "level_effects": level_effects,
        "level_probabilities": level_probabilities,
        "params": {
            "task": task,
            "n_informative": n_inf,
            "n_uninformative": n_uninf,
            "n_correlated": n_corr,
            "n_high_cardinality": n_hicard,
            "cardinality": cardinality,
            "n_categorical": n_cat,
            "drift_strength": strength,
            "noise": noise,
            "missing_rate": missing_rate,
        },
    }


def _timestamps(rng: np.random.Generator, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted hour offsets (with repeats) and the matching time fraction in ``[0, 1)``."""
    hours = np.sort(rng.integers(0, _SPAN_HOURS, n_rows))
    repeat = np.flatnonzero(rng.random(n_rows) < _REPEAT_FRACTION)
    repeat = repeat[repeat > 0]
    # Copy the previous row's hour onto a run of rows; the result stays sorted.
    keep = np.ones(n_rows, dtype=bool)
    keep[repeat] = False
    hours = hours[np.maximum.accumulate(np.where(keep, np.arange(n_rows), 0))]
    return hours, hours / _SPAN_HOURS


def _levels_column(
    name: str, rng: np.random.Generator, probabilities: dict[str, float], n_rows: int
) -> tuple[pl.Series, np.ndarray]:
    probs = np.fromiter(probabilities.values(), dtype=float)
    codes = rng.choice(len(probs), size=n_rows, p=probs / probs.sum())
    return pl.Series(name, list(probabilities)).gather(codes), codes


@_register("drift", _drift_truth)
def drift(
    n_rows: int = 2000,
    seed: int = 0,
    *,
    task: str = "binary",
    n_informative: int = 5,
    n_uninformative: int = 10,
    n_correlated: int = 3,
    n_high_cardinality: int = 1,
    cardinality: int = 1000,
    n_categorical: int = 2,
    drift_strength: float = 1.0,
    noise: float = 1.0,
    missing_rate: float = 0.02,
) -> pl.DataFrame:
    """A time-ordered table with covariate and concept drift (see the module docstring).

    Parameters
    ----------
    n_rows : int
        Number of rows.
    seed : int
        Seed of every random draw; equal arguments give equal frames.
    task : {"binary", "regression"}
        ``binary`` gives an ``Int8`` 0/1 target, ``regression`` a ``Float64`` one.
    n_informative : int
        Numeric features ``inf_*`` with a direct effect on the target.
    n_uninformative : int
        Numeric features ``uninf_*`` independent of the target.
    n_correlated : int
        Features ``corr_*``: noisy linear combinations of informative features.
    n_high_cardinality : int
        String features ``hicard_*`` with up to ``cardinality`` levels and small effects.
    cardinality : int
        Number of levels of each high-cardinality feature.
    n_categorical : int
        Low-cardinality string features ``cat_*``; only ``cat_0`` is informative.
    drift_strength : float
        Scales the covariate drift of ``inf_*`` and the concept drift of ``drifting``
        (0 removes both; 1 flips the sign of ``drifting``'s coefficient).
    noise : float
        Binary: scale of the logistic noise on the latent score (1 is the standard
        logistic link, 0 gives deterministic labels). Regression: residual sd.
    missing_rate : float
        Fraction of values set missing, at random, in ``inf_*``, ``corr_*`` and ``uninf_*``.

    Returns
    -------
    polars.DataFrame
        Columns ``ts``, ``inf_*``, ``corr_*``, ``uninf_*``, ``drifting``, ``cat_*``,
        ``hicard_*``, ``target``, sorted by ``ts``.
    """
    truth = _drift_truth(
        seed=seed,
        n_rows=n_rows,
        task=task,
        n_informative=n_informative,
        n_uninformative=n_uninformative,
        n_correlated=n_correlated,
        n_high_cardinality=n_high_cardinality,
        cardinality=cardinality,
        n_categorical=n_categorical,
        drift_strength=drift_strength,
        noise=noise,
        missing_rate=missing_rate,
    )
    _, rng = _streams(seed)
    hours, t = _timestamps(rng, n_rows)
    ts = pl.Series("ts", _START_US + hours * _HOUR_US, dtype=pl.Int64).cast(pl.Datetime("us"))

    values: dict[str, np.ndarray] = {}
    score = np.zeros(n_rows)
    for name, coef in truth["coefficients"].items():
        shift = truth["covariate_shift"][name]
        values[name] = rng.standard_normal(n_rows) + shift * (2.0 * t - 1.0)
        score += coef * values[name]
    for interaction in truth["interactions"]:
        a, b = interaction["columns"]
        score += interaction["coefficient"] * values[a] * values[b]
    for name, sources in truth["correlated_sources"].items():
        combo = sum(w * values[s] for s, w in sources.items())
        values[name] = combo + 0.3 * rng.standard_normal(n_rows)
    kinds = (
        lambda: rng.standard_normal(n_rows),
        lambda: rng.lognormal(0.0, 1.0, n_rows),
        lambda: rng.uniform(-1.0, 1.0, n_rows),
        lambda: rng.poisson(3.0, n_rows).astype(np.float64),
    )
    for j in range(truth["params"]["n_uninformative"]):
        values[f"uninf_{j}"] = kinds[j % len(kinds)]()

    drifting = rng.standard_normal(n_rows)
    d = truth["drifting_coefficient"]
    switch = 1.0 / (1.0 + np.exp(-(t - d["switch_at"]) / _SWITCH_WIDTH))
    score += (d["start"] + (d["end"] - d["start"]) * switch) * drifting

    categorical: list[pl.Series] = []
    for name, probabilities in truth["level_probabilities"].items():
        column, codes = _levels_column(name, rng, probabilities, n_rows)
        score += np.fromiter(truth["level_effects"][name].values(), dtype=float)[codes]
        categorical.append(column)

    score -= np.median(score)
    if task == "binary":
        target = pl.Series("target", score + noise * rng.logistic(size=n_rows) > 0, dtype=pl.Int8)
    else:
        target = pl.Series("target", score + noise * rng.standard_normal(n_rows))

    missing_rate = truth["params"]["missing_rate"]
    columns = [ts]
    for name, column in values.items():
        missing = rng.random(n_rows) < missing_rate if missing_rate > 0 else None
        columns.append(_numeric(name, column, missing))
    columns.append(pl.Series("drifting", drifting))
    return pl.DataFrame([*columns, *categorical, target])


# ----------------------------------------------------------------------------- blobs


def _blobs_truth(
    *,
    seed: int = 0,
    n_rows: int = 2000,
    n_classes: int = 3,
    n_features: int = 5,
    n_uninformative: int = 0,
    cluster_std: float = 1.0,
    separation: float = 3.0,
) -> dict[str, Any]:
    """Validate the ``blobs`` parameters and return its ground truth (see :func:`ground_truth`)."""
    _check_int(n_rows, "n_rows", 1)
    n_classes = _check_int(n_classes, "n_classes", 2)
    n_features = _check_int(n_features, "n_features", 1)
    n_uninf = _check_int(n_uninformative, "n_uninformative", 0)
    cluster_std = _check_float(cluster_std, "cluster_std", 0.0)
    separation = _check_float(separation, "separation", 0.0)
    rng, _ = _streams(seed)
    features = [f"x_{j}" for j in range(n_features)]
    centers = rng.normal(0.0, separation, (n_classes, n_features))
    return {
        "task": "multiclass",
        "target": "target",
        "time_column": None,
        "informative": features,
        "uninformative": [f"uninf_{j}" for j in range(n_uninf)],
        "correlated": [],
        "drifting": [],
        "numeric": [*features, *(f"uninf_{j}" for j in range(n_uninf))],
        "categorical": [],
        "classes": list(range(n_classes)),
        "centers": {
            k: dict(zip(features, row.tolist(), strict=True)) for k, row in enumerate(centers)
        },
        "cluster_std": cluster_std,
        "params": {
            "n_classes": n_classes,
            "n_features": n_features,
            "n_uninformative": n_uninf,
            "cluster_std": cluster_std,
            "separation": separation,
        },
    }


@_register("blobs", _blobs_truth)
def blobs(
    n_rows: int = 2000,
    seed: int = 0,
    *,
    n_classes: int = 3,
    n_features: int = 5,
    n_uninformative: int = 0,
    cluster_std: float = 1.0,
    separation: float = 3.0,
) -> pl.DataFrame:
    """Gaussian clusters, one per class, with known centres.

    Parameters
    ----------
    n_rows : int
        Number of rows; classes are drawn uniformly at random.
    seed : int
        Seed of every random draw.
    n_classes : int
        Number of classes (clusters).
    n_features : int
        Informative coordinates ``x_*``.
    n_uninformative : int
        Standard normal noise columns ``uninf_*``.
    cluster_std : float
        Standard deviation of each cluster around its centre.
    separation : float
        Standard deviation of the centres around the origin.

    Returns
    -------
    polars.DataFrame
        Columns ``x_*``, ``uninf_*`` and ``target`` (``Int64`` codes ``0..n_classes-1``).
    """
    truth = _blobs_truth(
        seed=seed,
        n_rows=n_rows,
        n_classes=n_classes,
        n_features=n_features,
        n_uninformative=n_uninformative,
        cluster_std=cluster_std,
        separation=separation,
    )
    _, rng = _streams(seed)
    centers = np.array([list(c.values()) for c in truth["centers"].values()])
    labels = rng.integers(0, n_classes, n_rows)
    x = centers[labels] + truth["cluster_std"] * rng.standard_normal((n_rows, centers.shape[1]))
    columns = [pl.Series(f"x_{j}", x[:, j]) for j in range(x.shape[1])]
    columns += [
        pl.Series(f"uninf_{j}", rng.standard_normal(n_rows)) for j in range(n_uninformative)
    ]
    return pl.DataFrame([*columns, pl.Series("target", labels, dtype=pl.Int64)])


# ----------------------------------------------------------------------------- public API


def generator_names() -> list[str]:
    """Names of the registered generators, in registration order."""
    return GENERATORS.names()


def _allowed(name: str) -> list[str]:
    return list(inspect.signature(GENERATORS.get(name)).parameters)


def _check_params(name: str, params: dict[str, Any], where: str) -> None:
    allowed = _allowed(name)
    prefix = f"{where}: " if where else ""
    for key in params:
        if key not in allowed:
            message = (
                f"{prefix}unknown parameter {key!r} for generator {name!r}; "
                f"allowed parameters are: {', '.join(allowed)}"
            )
            raise DatasetError(message)


def generate(
    name: str, n_rows: int | None = None, seed: int | None = None, *, where: str = "", **params: Any
) -> pl.DataFrame:
    """Generate a synthetic table.

    Parameters
    ----------
    name : str
        A name in :data:`GENERATORS` (see :func:`generator_names`).
    n_rows : int, optional
        Number of rows; the generator's default (2000) when omitted. It may also come
        from a TOML entry's ``generator_params``.
    seed : int, optional
        Seed; 0 when omitted.
    where : str
        A file name to prefix error messages with.
    **params
        The generator's own parameters.

    Returns
    -------
    polars.DataFrame

    Raises
    ------
    UnknownNameError
        If ``name`` is not a registered generator.
    DatasetError
        If a parameter is unknown or has an invalid value.

    Examples
    --------
    >>> generate("drift", n_rows=500, seed=3, task="regression").shape
    (500, 24)
    """
    fn = GENERATORS.get(name, where)
    if n_rows is not None:
        params["n_rows"] = n_rows
    if seed is not None:
        params["seed"] = seed
    _check_params(name, params, where)
    try:
        return fn(**params)
    except DatasetError as exc:
        if where:
            raise DatasetError(f"{where}: {exc}") from None
        raise


def ground_truth(name: str, **params: Any) -> dict[str, Any]:
    """What generator ``name`` built with ``params`` is made of.

    Parameters
    ----------
    name : str
        A registered generator.
    **params
        The parameters given to :func:`generate` (``n_rows`` is accepted and ignored;
        ``seed`` matters only for the randomly drawn effects).

    Returns
    -------
    dict
        Always ``task``, ``target``, ``time_column`` and the column lists ``informative``
        (direct effect on the target), ``uninformative`` (independent of it),
        ``correlated`` (no own effect, correlated through informative features),
        ``drifting`` (effect changes over time), ``numeric`` and ``categorical``, plus
        ``params`` (the full parameter set). ``drift`` adds ``coefficients``,
        ``interactions``, ``drifting_coefficient``, ``covariate_shift``,
        ``correlated_sources``, ``level_effects``, ``level_probabilities``,
        ``high_cardinality`` and ``with_missing``; ``blobs`` adds ``classes``,
        ``centers`` and ``cluster_std``.

    Examples
    --------
    >>> ground_truth("drift", n_informative=2)["informative"][:3]
    ['inf_0', 'inf_1', 'drifting']
    """
    truth_fn = _TRUTHS.get(name)
    _check_params(name, params, "")
    return truth_fn(**params)
