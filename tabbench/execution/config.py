"""Benchmark configs (TOML) as frozen, typed objects, and the named tuning budgets."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tabbench.core._registry import Registry
from tabbench.core._toml import check_keys, expect, read_toml
from tabbench.core.device import DEVICES
from tabbench.core.paths import check_name, safe_join
from tabbench.data.splits import SPLITTERS
from tabbench.exceptions import ConfigError, UnknownNameError
from tabbench.methods.features.rankers import DEFAULT_SELECTION_METHOD, RANKERS
from tabbench.methods.models import get_model
from tabbench.methods.plugins import load_plugins

#: The project root (the folder holding ``configs/``, ``datasets/`` and ``leaderboard/``).
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Budget:
    """How much tuning a job gets, and how its models train.

    ``n_trials_gbdt`` applies to gradient-boosting models, ``n_trials_nn`` (when set) to the
    torch nets, ``n_trials`` to the rest (TabReD tunes boosters longer), and
    ``trials_by_model`` overrides the count for the models it names; ``eval_seeds`` is
    how many seeds the best params are refit with; ``max_rounds`` caps the boosting rounds
    (or epochs) of iterative models; ``timeout`` (seconds) caps one study's tuning time when
    set (it makes the number of trials, and so the results, depend on the machine's speed).
    ``fixed_params`` (per model family) are set in every fit, trials and refits alike, over
    the model's defaults and the sampled params; ``prune`` lets Optuna stop hopeless trials.
    ``description`` says what the budget is for (printed when a run starts).
    ``smoke`` and ``quick`` run the nets with their defaults only: on a CPU one sampled
    net trial costs minutes (docs/getting-started.md, "Running a benchmark").
    """

    name: str
    n_trials: int
    n_trials_gbdt: int
    eval_seeds: int
    max_rounds: int | None = None
    timeout: float | None = None
    n_trials_nn: int | None = None
    trials_by_model: dict[str, int] = field(default_factory=dict)
    fixed_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    prune: bool = True
    description: str = ""

    def trials_for(self, family: str, model: str | None = None) -> int:
        """Number of trials for ``model`` (when given) of ``family``."""
        if model is not None and model in self.trials_by_model:
            return self.trials_by_model[model]
        if family == "gbdt":
            return self.n_trials_gbdt
        if family == "nn" and self.n_trials_nn is not None:
            return self.n_trials_nn
        return self.n_trials

    def params_for(self, family: str) -> dict[str, Any]:
        """The params every fit of a ``family`` model gets under this budget."""
        return dict(self.fixed_params.get(family, {}))

    def protocol_key(self) -> dict[str, Any]:
        """What besides the trial counts, seeds, rounds and timeout determines a job's
        result under this budget; empty for the budgets without such settings, so their
        job ids stay as they were before these settings existed."""
        key: dict[str, Any] = {}
        if self.trials_by_model:
            key["trials_by_model"] = dict(sorted(self.trials_by_model.items()))
        if self.fixed_params:
            key["fixed_params"] = {f: dict(sorted(p.items()))
                                   for f, p in sorted(self.fixed_params.items())}
        if not self.prune:
            key["prune"] = False
        return key


#: The ``paper`` budget's description: what it runs as TabReD's code does, and every
#: difference that remains (docs/tabred/protocol.md, section 5, has the file-by-file table).
PAPER_DIFFERENCES = (
    "TabReD's protocol (docs/tabred/protocol.md): boosters 4000 rounds with patience 3999 "
    "on validation AUC (binary) / RMSE, nets with no epoch cap and patience 16 on the "
    "validation score, no gradient clipping, no pruning, 200 trials for boosters, 100 for "
    "nets, 25 for linear, 10 for random-forest, 15 evaluation seeds. Still different from "
    "TabReD: the first trial is the model's defaults; search spaces are tabbench's (XGBoost "
    "depth 3-10, CatBoost depth 3-8, MLP/PLR ranges); LightGBM keeps its best round (TabReD's "
    "script drops its early stopping and keeps all 4000); CatBoost evaluates on the job's "
    "device (TabReD: CPU); nets use batch 256-1024 by rows, bf16 autocast on CUDA, weight "
    "decay on every parameter, and a missing indicator and embeddings for >20 categories in "
    "preprocessing; the linear model is logistic/ridge regression (TabReD: SGD elastic net) "
    "and the random forest has 100 trees (TabReD: 1000-4000); regression targets are "
    "standardized for nets only; the time split uses fractions or two cuts (TabReD: "
    "hand-picked dates) and window sizes come from fractions unless "
    "split_params.sliding-window.size is set; each random split has its own seed; "
    "TabReD's 3 ensembles of 5 seeds are not built."
)

BUDGETS: Registry[Budget] = Registry("budget")
for _budget in (
    Budget("smoke", n_trials=2, n_trials_gbdt=2, eval_seeds=1, max_rounds=100, n_trials_nn=1),
    Budget("quick", n_trials=4, n_trials_gbdt=6, eval_seeds=1, max_rounds=400, n_trials_nn=1),
    Budget("standard", n_trials=25, n_trials_gbdt=50, eval_seeds=3, max_rounds=2000),
    Budget("paper", n_trials=100, n_trials_gbdt=200, eval_seeds=15, max_rounds=None,
           trials_by_model={"linear": 25, "random-forest": 10},
           fixed_params={
               "gbdt": {"n_estimators": 4000, "early_stopping_rounds": 3999, "stop_on": "score"},
               "nn": {"max_epochs": None, "patience": 16, "stop_on": "score",
                      "grad_clip": None},
           },
           prune=False, description=PAPER_DIFFERENCES),
):
    BUDGETS.register(_budget.name, _budget)

VARIANTS = ("default", "tuned")
EXECUTORS = ("local", "dask")
#: Feature selectors of the ``[features]`` section and the ranker each uses when ``method``
#: is not given: ``rank`` picks the top k by any ranker; ``outrank`` by OutRank's own
#: scores as its package computes them (``outrank``, or ``outrank-3mr``).
SELECTORS = {"rank": DEFAULT_SELECTION_METHOD, "outrank": "outrank"}
#: The rankers ``select = "outrank"`` accepts.
OUTRANK_METHODS = ("outrank", "outrank-3mr")

_KEYS = (
    "name", "description", "datasets", "models", "splits", "split_params", "variants", "seeds",
    "budget", "n_trials", "eval_seeds", "jobs", "time_limit", "executor", "scheduler",
    "storage", "max_rows", "device", "out", "features", "tuning_workers", "threads",
    "store_predictions", "ensemble", "plugins", "train_rows",
)
_FEATURE_KEYS = ("select", "top_k", "method")
#: The ranker that picks the top-k features to tune on when none is named: JMI scores a
#: feature together with those already picked, so it keeps features that matter only beside
#: others (the measured comparison of the rankers is in docs/features.md, "The rankers").


@dataclass(frozen=True)
class FeatureSelection:
    """Tune on the ``top_k`` best features only, ranked on the training part of each split.

    ``select = "rank"``: ``method`` is any ranker of :mod:`tabbench.methods.features.rankers`
    (``mi``, ``mi-corrected``, ``mi-heldout``, ``3mr``, ``jmi``, ``outrank``,
    ``outrank-3mr``; default :data:`DEFAULT_SELECTION_METHOD`). ``select = "outrank"``:
    OutRank's own scores, ``outrank`` (default) or ``outrank-3mr``. Jobs with a selection
    are distinct jobs (their own ``job_id``) and their result rows carry the selection in
    ``variant``, e.g. ``tuned-top10-jmi``.
    """

    top_k: int
    method: str = DEFAULT_SELECTION_METHOD
    select: str = "rank"

    @property
    def label(self) -> str:
        """The suffix of the variant: the count and the ranker, e.g. ``top10-jmi``."""
        return f"top{self.top_k}-{self.method}"

    def validate(self, where: str, parameter: str | None = None) -> None:
        """Check the selector, the method and ``top_k``; ``where`` starts the messages (it
        is the function ``parameter`` when the selection came from one)."""
        if self.select not in SELECTORS:
            raise ConfigError(f"{where}: [features] unknown select {self.select!r}; valid "
                              f"names are: {', '.join(SELECTORS)}", parameter=parameter)
        if self.select == "outrank" and self.method not in OUTRANK_METHODS:
            raise ConfigError(f"{where}: [features] select = 'outrank' ranks by OutRank's own "
                              f"scores, method {' or '.join(map(repr, OUTRANK_METHODS))}; got "
                              f"method {self.method!r} (for it, write select = 'rank')",
                              parameter=parameter)
        try:
            RANKERS.get(self.method, f"{where}: [features] method")
        except UnknownNameError as exc:
            exc.parameter = parameter
            raise
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 1:
            raise ConfigError(f"{where}: [features] top_k must be an integer of at least 1, "
                              f"got {self.top_k!r}", parameter=parameter)


@dataclass(frozen=True)
class BenchmarkConfig:
    """A benchmark: datasets × split strategies × models × variants × seeds, and how to run it."""

    name: str = "default"
    description: str = ""
    datasets: tuple[str, ...] = ()
    models: tuple[str, ...] = ("dummy", "linear", "random-forest", "xgboost", "lightgbm",
                               "catboost")
    splits: tuple[str, ...] = ("time", "random")
    split_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    variants: tuple[str, ...] = ("tuned",)
    seeds: tuple[int, ...] = (0,)
    budget: Budget = field(default_factory=lambda: BUDGETS.get("quick"))
    jobs: int = 1
    time_limit: float | None = 900.0
    executor: str = "local"
    scheduler: str | None = None
    storage: str | None = None
    max_rows: int | None = None
    device: str = "auto"
    out: Path | None = None
    source: Path | None = None
    #: Feature sets to tune on: ``None`` is all features; each one multiplies the jobs.
    features: tuple[FeatureSelection | None, ...] = (None,)
    #: Training sizes (learning curves): each split's training part subsampled to each size,
    #: validation and test rows unchanged (:func:`tabbench.data.splits.training_subset`);
    #: ``None`` is the whole training part; each size multiplies the jobs.
    train_rows: tuple[int | None, ...] = (None,)
    #: Dask workers that tune one job's study at once (needs a shared ``storage``).
    tuning_workers: int = 1
    #: Threads per job; ``None``: the cores divided by ``jobs`` (local), 1 (Dask).
    threads: int | None = None
    #: Keep each job's validation and test predictions (``<run>/predictions/``).
    store_predictions: bool = True
    #: Build the post-hoc ensembles (``tabbench ensemble``) at the end of ``run``.
    ensemble: bool = False
    #: Plugins to load (files or modules, see :mod:`tabbench.methods.plugins`); a config file's
    #: relative paths are resolved against its folder when it is read.
    plugins: tuple[str, ...] = ()
    #: The keys set from the command line (:meth:`override`), named by flag in messages.
    from_flags: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    @property
    def out_dir(self) -> Path:
        """Where results go: ``out`` if set, else ``leaderboard/<name>`` under the current folder."""
        return self.out or safe_join(Path.cwd() / "leaderboard", self.name)

    def override(self, **changes: Any) -> BenchmarkConfig:
        """A copy with the non-``None`` ``changes`` applied (CLI options over the config)."""
        kept = {k: v for k, v in changes.items() if v is not None}
        if "budget" in kept and isinstance(kept["budget"], str):
            kept["budget"] = BUDGETS.get(kept["budget"], parameter="budget")
        if "scheduler" in kept:  # --scheduler alone means the Dask executor
            kept.setdefault("executor", "dask")
        for key in ("datasets", "models", "splits", "variants", "seeds", "train_rows"):
            if key in kept:
                kept[key] = tuple(kept[key])
        if "plugins" in kept:  # loaded now, so their names are known to validate
            loaded = load_plugins(kept["plugins"])
            kept["plugins"] = tuple(dict.fromkeys((*self.plugins, *(p.ref for p in loaded))))
        config = replace(self, **kept, from_flags=self.from_flags | set(kept))
        config.validate(where="command line", flags=True)
        return config

    def validate(self, where: str, flags: bool = False) -> None:
        """Check the names and numbers that can be checked without loading data.

        ``where`` names the source in messages (the config file); with ``flags`` the
        values came from arguments (the command line), and each message starts with the
        parameter it names (``jobs must be at least 1``, raised with ``parameter="jobs"``).
        """
        def fail(key: str, problem: str) -> None:
            if flags:
                raise ConfigError(f"{key} {problem}", parameter=key)
            raise ConfigError(f"{where}: {key} {problem}")

        check_name(self.name, "run name", where, ConfigError)
        load_plugins(self.plugins, where="" if flags else f"{where}: plugins")
        for model in self.models:
            get_model(model, where, parameter="models" if flags else None)
        for split in self.splits:
            SPLITTERS.get(split, where, parameter="splits" if flags else None)
        for split in self.split_params:
            SPLITTERS.get(split, f"{where}: split_params")
        for variant in self.variants:
            if variant not in VARIANTS:
                raise ConfigError(f"{where}: unknown variant {variant!r}; valid names are: "
                                  f"{', '.join(VARIANTS)}")
        if self.executor not in EXECUTORS:
            fail("executor", f"must be one of {', '.join(EXECUTORS)}, got {self.executor!r}")
        if self.device not in DEVICES:
            fail("device", f"must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.jobs < 1:
            fail("jobs", f"must be at least 1, got {self.jobs}")
        if self.threads is not None and self.threads < 1:
            fail("threads", f"must be at least 1, got {self.threads}")
        if self.time_limit is not None and not (0 < self.time_limit < math.inf):
            fail("time_limit", f"must be a number of seconds greater than 0, "
                               f"got {self.time_limit}")
        if self.scheduler is not None and self.executor != "dask":
            fail("scheduler", f"({self.scheduler}) needs executor 'dask', "
                              f"got {self.executor!r}")
        if self.tuning_workers < 1:
            fail("tuning_workers", f"must be at least 1, got {self.tuning_workers}")
        if self.tuning_workers > 1 and (self.executor != "dask" or self.storage is None
                                        or self.storage.startswith("sqlite:///:memory:")):
            fail("tuning_workers", f"set to {self.tuning_workers} needs executor 'dask' and a "
                                   f"shared Optuna storage (e.g. "
                                   f"postgresql+psycopg://USER@HOST:PORT/DB)")
        if self.max_rows is not None and self.max_rows < 10:
            fail("max_rows", f"must be at least 10, got {self.max_rows}")
        if not self.train_rows or any(
                n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 10)
                for n in self.train_rows):
            fail("train_rows", f"must be integers of at least 10, got "
                               f"{', '.join(map(str, self.train_rows)) or 'none'}")
        if len(set(self.train_rows)) < len(self.train_rows):
            fail("train_rows", f"lists a size twice: {', '.join(map(str, self.train_rows))}")
        if not self.seeds:
            fail("seeds", "must not be empty")
        if any(seed < 0 for seed in self.seeds):
            fail("seeds", f"must be non-negative integers, got "
                          f"{', '.join(map(str, self.seeds))}")
        if not self.features:
            fail("features", "must hold at least one feature set")
        if self.ensemble and not self.store_predictions:
            fail("ensemble", "needs the stored predictions (store_predictions = true; "
                             "leave out --no-predictions)")
        for selection in self.features:
            if selection is not None:
                selection.validate("top_k" if flags else where, "top_k" if flags else None)


def load_config(path: Path | None = None) -> BenchmarkConfig:
    """Read a benchmark config; ``None`` reads the project's ``configs/default.toml``."""
    path = Path(path) if path is not None else default_config_path()
    where = str(path)
    raw = read_toml(path)
    check_keys(raw, _KEYS, where)
    kwargs: dict[str, Any] = {}
    if "plugins" in raw:  # first: the plugins' models, splitters and metrics are then known
        refs = expect(raw["plugins"], list, "plugins", where)
        if not all(isinstance(ref, str) for ref in refs):
            raise ConfigError(f"{where}: key 'plugins' must be a list of file paths or "
                              f"module names")
        loaded = load_plugins(refs, base=path.parent, where=f"{where}: plugins")
        kwargs["plugins"] = tuple(dict.fromkeys(plugin.ref for plugin in loaded))
    for key in ("name", "description", "executor", "scheduler", "storage", "device"):
        if key in raw:
            kwargs[key] = expect(raw[key], str, key, where)
    for key in ("datasets", "models", "splits", "variants"):
        if key in raw:
            values = expect(raw[key], list, key, where)
            if not all(isinstance(v, str) for v in values):
                raise ConfigError(f"{where}: key {key!r} must be a list of names")
            kwargs[key] = tuple(v.lower() for v in values)
    if "seeds" in raw:
        seeds = expect(raw["seeds"], list, "seeds", where)
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
            raise ConfigError(f"{where}: key 'seeds' must be a list of integers")
        kwargs["seeds"] = tuple(seeds)
    for key in ("jobs", "max_rows", "tuning_workers", "threads"):
        if key in raw:
            kwargs[key] = expect(raw[key], int, key, where)
    for key in ("store_predictions", "ensemble"):
        if key in raw:
            kwargs[key] = expect(raw[key], bool, key, where)
    if "time_limit" in raw:
        kwargs["time_limit"] = float(expect(raw["time_limit"], (int, float), "time_limit", where))
    if "out" in raw:
        kwargs["out"] = (path.parent / expect(raw["out"], str, "out", where)).resolve()
    split_params = expect(raw.get("split_params", {}), dict, "split_params", where)
    for strategy, params in split_params.items():
        expect(params, dict, f"split_params.{strategy}", where)
    kwargs["split_params"] = {k.lower(): dict(v) for k, v in split_params.items()}
    budget = BUDGETS.get(expect(raw.get("budget", "quick"), str, "budget", where), where)
    if "n_trials" in raw:
        n = expect(raw["n_trials"], int, "n_trials", where)
        if n < 1:
            raise ConfigError(f"{where}: n_trials must be at least 1, got {n}")
        budget = replace(budget, name=f"{budget.name}+n_trials={n}", n_trials=n, n_trials_gbdt=n,
                         n_trials_nn=n)
    if "eval_seeds" in raw:
        n = expect(raw["eval_seeds"], int, "eval_seeds", where)
        if n < 1:
            raise ConfigError(f"{where}: eval_seeds must be at least 1, got {n}")
        budget = replace(budget, name=f"{budget.name}+eval_seeds={n}", eval_seeds=n)
    kwargs["budget"] = budget
    if "features" in raw:
        kwargs["features"] = (_feature_selection(raw["features"], where),)
    if "train_rows" in raw:
        sizes = raw["train_rows"] if isinstance(raw["train_rows"], list) else [raw["train_rows"]]
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in sizes):
            raise ConfigError(f"{where}: key 'train_rows' must be an integer or a list of "
                              f"integers (training rows per split), got {raw['train_rows']!r}")
        kwargs["train_rows"] = tuple(sizes)
    config = BenchmarkConfig(**kwargs, source=path)
    config.validate(where)
    return config


def _feature_selection(raw: Any, where: str) -> FeatureSelection:
    """The ``[features]`` table: ``select = "rank"`` or ``"outrank"``, ``top_k = K``, optional
    ``method`` (default: the selector's, see :data:`SELECTORS`)."""
    table = expect(raw, dict, "features", where)
    check_keys(table, _FEATURE_KEYS, f"{where}: [features]", required=("select", "top_k"))
    select = expect(table["select"], str, "features.select", where).lower()
    top_k = expect(table["top_k"], int, "features.top_k", where)
    method = expect(table.get("method", SELECTORS.get(select, DEFAULT_SELECTION_METHOD)), str,
                    "features.method", where).lower()
    selection = FeatureSelection(top_k=top_k, method=method, select=select)
    selection.validate(where)
    return selection


def default_config_path() -> Path:
    """``./configs/default.toml`` if present, else the project's."""
    local = Path.cwd() / "configs" / "default.toml"
    return local if local.is_file() else PROJECT_ROOT / "configs" / "default.toml"
