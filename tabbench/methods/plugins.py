"""Plugins: your own models, splitters and metrics, benchmarked like the built-in ones.

A plugin is a Python file or an importable module whose import registers through the
public API:

* :func:`sklearn_model` turns a scikit-learn-compatible estimator factory into a model;
  :func:`register_model` registers any :class:`~tabbench.methods.models.base.ModelSpec`;
* :func:`register_split` adds a splitter (``time_based=`` says whether it orders rows by
  time); :func:`register_metric` adds a metric (``greater_is_better=`` says which way).

It is loaded by ``tabbench run --plugin my_models.py`` (or ``--plugin mypkg.models``), by
the config key ``plugins = [...]`` (paths relative to the config file), by
:func:`load_plugins`, or automatically when an installed distribution declares the
entry-point group ``tabbench.plugins``. A module that calls the registration functions at
its top level is a plugin too: the registration remembers the module.

Worker processes load the same plugins as the driver: every job carries the driver's
plugins (:func:`shipped`) and the worker loads them before the job (:func:`ensure_plugins`),
so a fresh worker (the first, or one that replaced a worker after a timeout, a crash or its
100th job) and a Dask worker on another machine get them too. A plugin *file* travels with
the job (its bytes, run as they were hashed); a plugin *module* or installed distribution
must be importable on the worker, in the driver's version (else the job's row says so).

Each result row records the plugin's provenance in ``versions`` (distribution and version,
or the file's sha256), and a job whose model, splitter or metric comes from a plugin has
that provenance in its id: editing the plugin re-runs its jobs (and only them), and old and
new results never mix in one ranking. The ids of jobs of built-ins do not change.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from tabbench.core import _plugin_loader
from tabbench.core._plugin_loader import Plugin
from tabbench.core.paths import check_name
from tabbench.data.metrics import METRIC_NAME, METRICS, TASKS, Metric
from tabbench.data.splits import SPLIT_NAME, SPLITTERS, register_splitter
from tabbench.exceptions import PluginError
from tabbench.methods.models import MODELS, FitContext, ModelSpec
from tabbench.methods.models.base import Family
from tabbench.methods.models.classic import SklearnModel
from tabbench.methods.plugin_sources import (
    file_plugin,
    is_path,
    load_file,
    load_module,
    module_plugin,
    run_file,
)

__all__ = ["Plugin", "PluginInfo", "check_registered", "ensure_plugins", "load_plugins",
           "loaded_plugins", "provenance_of", "register_metric", "register_model",
           "register_split", "shipped", "sklearn_model"]

FAMILIES: tuple[str, ...] = get_args(Family)
MODEL_TASKS: tuple[str, ...] = (*TASKS, "ncd")
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


# --- loading ----------------------------------------------------------------------------


def load_plugins(refs: Iterable[str | os.PathLike[str]], base: Path | None = None,
                 where: str = "") -> list[Plugin]:
    """Load each plugin of ``refs`` (see :func:`load_plugin`), in order."""
    return [load_plugin(ref, base, where) for ref in refs]


def load_plugin(ref: str | os.PathLike[str], base: Path | None = None,
                where: str = "") -> Plugin:
    """Load one plugin: a Python file (``my_models.py``, relative to ``base``, default the
    current folder) or an importable module (``mypkg.tabbench_models``).

    Loading a plugin twice loads it once. Raises :class:`PluginError` (one line: the file
    or module, the exception's type and message, the file and line) when the plugin cannot
    be found, fails on import, or registers a name that is taken or a spec that is
    incomplete; nothing it registered before failing stays registered.

    Examples
    --------
    >>> import tabbench
    >>> tabbench.load_plugins(["my_models.py"])      # doctest: +SKIP
    """
    text = os.fspath(ref).strip()
    prefix = f"{where}: " if where else ""
    if is_path(text):
        path = (Path(base or Path.cwd()) / Path(text).expanduser()).resolve()
        if path.is_dir():
            raise PluginError(f"{prefix}plugin {text!r}: {path} is a folder; name a .py file, "
                              f"or the module of a package that is importable",
                              parameter=None if where else "plugin")
        if not path.is_file():
            raise PluginError(f"{prefix}plugin {text!r}: no such file ({path})",
                              parameter=None if where else "plugin")
        if path.suffix != ".py":
            raise PluginError(f"{prefix}plugin {text!r}: a plugin file must be a Python "
                              f"file ending in .py", parameter=None if where else "plugin")
        return load_file(path)
    if not _MODULE_NAME.fullmatch(text):
        raise PluginError(f"{prefix}plugin {text!r} is neither a .py file nor a module name "
                          f"such as mypkg.tabbench_models", parameter=None if where else "plugin")
    return load_module(text, prefix, parameter=None if where else "plugin")


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin and what it registered: ``(kind, name)`` pairs."""

    plugin: Plugin
    registered: tuple[tuple[str, str], ...]


def loaded_plugins() -> list[PluginInfo]:
    """Every loaded plugin (installed ones included), with what it registered."""
    return [PluginInfo(p, tuple(_plugin_loader.registered(p))) for p in _plugin_loader.loaded()]


# --- registration -----------------------------------------------------------------------


def _caller(kind: str, name: str) -> tuple[Plugin, str | None]:
    """The plugin a registration belongs to, and why workers could not repeat it (if so).

    While a plugin loads, that plugin. Otherwise the module whose code called the public
    function: workers import that module, which must register at its top level.
    """
    plugin = _plugin_loader.current()
    if plugin is not None:
        return plugin, None
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] \
            in ("tabbench", "functools"):
        frame = frame.f_back
    if frame is None:  # pragma: no cover - always a caller outside tabbench
        return Plugin(name="<unknown>", source="script", ref="<unknown>", module=""), \
            "registered from an unknown place"
    module = frame.f_globals.get("__name__", "")
    file = frame.f_globals.get("__file__")
    function = frame.f_code.co_name
    if module in ("__main__", "__mp_main__"):
        if not file:
            plugin = Plugin(name="<interactive>", source="script", ref="<interactive>",
                            module="__main__")
            return plugin, (f"{kind} {name!r} was registered in an interactive session, which "
                            f"worker processes cannot import: put it in a file and load it "
                            f"with --plugin FILE or tabbench.load_plugins([FILE])")
        path = Path(file).resolve()
        plugin = file_plugin(path, path.read_bytes(), source="script")
    else:
        plugin = module_plugin(module)
    if function != "<module>":
        return plugin, (f"{kind} {name!r} was registered inside {function}() of {file or module}, "
                        f"which worker processes do not run when they import it: register it "
                        f"at the top level of a module or plugin file")
    return plugin, None


def _claim(kind: str, name: str, add: Callable[[], Any]) -> Any:
    plugin, unreachable = _caller(kind, name)
    return _plugin_loader.claim(kind, name, plugin, add, unreachable)


def register_model(spec: ModelSpec) -> ModelSpec:
    """Register a plugin's model; return the spec.

    The spec needs a lowercase ``name``, ``task_types`` (from binary, multiclass,
    regression), a ``family`` (gbdt, classic or nn: the preprocessing it gets) and a
    ``build(params, context)`` that returns an estimator with ``fit(X, y, X_val, y_val)``
    and ``predict_proba`` (classification) or ``predict`` (regression). Raises
    :class:`PluginError` for a missing piece or a name already registered (by a built-in
    or another plugin).
    """
    _check_spec(spec)
    return _claim("model", spec.name, lambda: MODELS.register(spec.name, spec))


def _check_spec(spec: Any) -> None:
    if not isinstance(spec, ModelSpec):
        raise PluginError(f"register_model takes a tabbench.ModelSpec; got "
                          f"{type(spec).__name__} (for a scikit-learn estimator use "
                          f"tabbench.sklearn_model)")
    name = spec.name
    check_name(name, "model name", error=PluginError)
    problems = []
    tasks = spec.task_types
    if (not isinstance(tasks, tuple | list) or not tasks
            or not set(tasks) <= set(MODEL_TASKS)):
        problems.append(f"task_types must be a non-empty tuple of {', '.join(MODEL_TASKS)}; "
                        f"got {tasks!r}")
    if spec.family not in FAMILIES:
        problems.append(f"family must be one of {', '.join(FAMILIES)} (the preprocessing "
                        f"it gets); got {spec.family!r}")
    if not callable(spec.build):
        problems.append(f"build must be a function (params, context) -> estimator; got "
                        f"{type(spec.build).__name__}")
    if spec.search_space is not None and not callable(spec.search_space):
        problems.append(f"search_space must be a function trial -> params, or None; got "
                        f"{type(spec.search_space).__name__}")
    if not isinstance(spec.default_params, dict):
        problems.append(f"default_params must be a dict; got {type(spec.default_params).__name__}")
    if problems:
        raise PluginError(f"model {name!r}: " + "; ".join(problems))


def sklearn_model(name: str, *, classifier: Callable[..., Any] | None = None,
                  regressor: Callable[..., Any] | None = None,
                  default_params: dict[str, Any] | None = None,
                  search_space: Callable[[Any], dict[str, Any]] | None = None,
                  family: str = "classic", description: str = "",
                  packages: Sequence[str] = (), cost: float = 1.0, baseline: bool = False,
                  validation: bool = True) -> ModelSpec:
    """Register a model made from scikit-learn-compatible estimators; return its spec.

    Parameters
    ----------
    name : str
        The model's name (lowercase letters, digits, ``.``, ``_``, ``-``).
    classifier, regressor : callable, optional
        Estimator factories, at least one: ``params -> estimator`` (a class is called as
        ``cls(**params)``; a function of two arguments also gets the
        :class:`~tabbench.methods.models.base.FitContext`: task, classes, seed, threads). The
        classifier serves binary and multiclass tasks, the regressor regression. An
        estimator's ``random_state``, ``n_jobs`` and ``n_threads`` params that are left at
        ``None`` are set to the job's seed and thread count.
    default_params : dict, optional
        The params of the ``default`` variant, and the first trial of the ``tuned`` one.
    search_space : callable, optional
        ``trial -> params`` (Optuna's define-by-run); without it the model is not tuned.
    family : {"classic", "gbdt", "nn"}
        The preprocessing the model gets (``classic``: imputed, standardized, one-hot;
        ``gbdt``: raw numbers with NaN, categories as codes; ``nn``: quantile-normalized).
    packages : sequence of str
        Distributions whose versions go into each result row's ``versions``.
    validation : bool, default True
        Hand the validation part to ``fit`` when it takes ``X_val``/``y_val`` or
        ``eval_set`` (for early stopping).

    Notes
    -----
    Class order is handled: probabilities are returned for the class codes
    ``0..n_classes-1`` (a class missing from the training part gets 0). A prediction of the
    wrong shape, or with NaN or infinite values, fails the job with a row that says so.

    Examples
    --------
    >>> import tabbench
    >>> from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor
    >>> spec = tabbench.sklearn_model(                          # doctest: +SKIP
    ...     "extra-trees", classifier=ExtraTreesClassifier, regressor=ExtraTreesRegressor,
    ...     default_params={"n_estimators": 200},
    ...     search_space=lambda t: {"max_features": t.suggest_float("max_features", 0.1, 1)})
    """
    factories = {"classifier": classifier, "regressor": regressor}
    problems = [f"{role} must be a class or a function params -> estimator; got "
                f"{type(f).__name__}" for role, f in factories.items()
                if f is not None and not callable(f)]
    if classifier is None and regressor is None:
        problems.append("give a classifier, a regressor or both")
    if problems:
        raise PluginError(f"model {name!r}: " + "; ".join(problems))
    tasks = (("binary", "multiclass") if classifier is not None else ()) + \
        (("regression",) if regressor is not None else ())
    build = functools.partial(_build_sklearn, classifier, regressor, validation)
    spec = ModelSpec(name=name, task_types=tasks, family=family,  # type: ignore[arg-type]
                     build=build, default_params=dict(default_params or {}),
                     search_space=search_space, description=description,
                     packages=tuple(packages), cost=cost, baseline=baseline)
    return register_model(spec)


def _build_sklearn(classifier: Any, regressor: Any, validation: bool, params: dict[str, Any],
                   context: FitContext) -> SklearnModel:
    factory = regressor if context.task == "regression" else classifier
    make = functools.partial(_make_estimator, factory)
    return SklearnModel(make=make, params=dict(params), context=context,
                        validation=validation)


def _make_estimator(factory: Any, params: dict[str, Any], context: FitContext) -> Any:
    """``factory``'s estimator for ``params``, its unset seed and thread params filled in."""
    if isinstance(factory, type):
        estimator = factory(**params)
    elif _positional(factory) >= 2:
        estimator = factory(params, context)
    else:
        estimator = factory(params)
    missing = [m for m in ("fit",) if not callable(getattr(estimator, m, None))]
    if missing:
        raise TypeError(f"the factory returned {type(estimator).__name__}, which has no fit "
                        f"method")
    get_params = getattr(estimator, "get_params", None)
    if callable(get_params):
        current = get_params(deep=False)
        fill = {"random_state": context.seed, "n_jobs": context.n_threads,
                "n_threads": context.n_threads}
        updates = {k: v for k, v in fill.items() if k in current and current[k] is None}
        if updates:
            estimator.set_params(**updates)
    return estimator


def _positional(fn: Any) -> int:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return 2
    return sum(p.kind in kinds for p in parameters)


def register_split(name: str, fn: Callable[..., Any], *, time_based: bool) -> Callable[..., Any]:
    """Register a splitter; return the registered function.

    ``fn(n_rows, *, time, y, groups, seed, where, **params)`` returns a list of
    :class:`~tabbench.data.splits.Split` with ids ``<name>-0``, ``<name>-1``, …; it declares
    only the keywords it uses, plus its own parameters (set by a config's
    ``split_params``). ``time_based=True`` marks a splitter that orders rows by time: its
    parts are checked to be ordered in time and it is skipped on datasets without a time
    column. ``name`` is lowercase words joined by ``-`` (``month-holdout``).
    """
    if not isinstance(name, str) or not SPLIT_NAME.fullmatch(name):
        raise PluginError(f"split name {name!r} is not valid: use lowercase words joined by "
                          f"'-' (e.g. month-holdout); split ids are the name and a number")
    if not callable(fn):
        raise PluginError(f"split {name!r}: fn must be a function; got {type(fn).__name__}")
    if not isinstance(time_based, bool):
        raise PluginError(f"split {name!r}: time_based must be True or False; got "
                          f"{time_based!r}")
    return _claim("split", name, lambda: _add_splitter(name, fn, time_based))


def _add_splitter(name: str, fn: Callable[..., Any], time_based: bool) -> Callable[..., Any]:
    return register_splitter(name, fn, time_based=time_based)


def register_metric(name: str, fn: Callable[[Any, Any], float], *, greater_is_better: bool,
                    task_types: Sequence[str] = TASKS, needs_proba: bool = False) -> Metric:
    """Register a metric; return it.

    ``fn(y_true, prediction) -> float`` receives, for classification, the class codes and
    the probability matrix ``(n, n_classes)``; for regression, the values and the
    predictions ``(n,)``. ``greater_is_better`` is required (it sets the direction of the
    tuning and of every ranking). ``task_types`` are the tasks it applies to. A dataset
    uses it with ``metric = "<name>"`` in its TOML.
    """
    if not isinstance(name, str) or not METRIC_NAME.fullmatch(name):
        raise PluginError(f"metric name {name!r} is not valid: use lowercase letters, digits "
                          f"and '_', starting with a letter")
    problems = []
    if not callable(fn):
        problems.append(f"fn must be a function (y_true, prediction) -> float; got "
                        f"{type(fn).__name__}")
    if not isinstance(greater_is_better, bool):
        problems.append(f"greater_is_better must be True or False; got {greater_is_better!r}")
    tasks = tuple(task_types) if not isinstance(task_types, str) else (task_types,)
    if not tasks or not set(tasks) <= set(TASKS):
        problems.append(f"task_types must be some of {', '.join(TASKS)}; got {task_types!r}")
    if problems:
        raise PluginError(f"metric {name!r}: " + "; ".join(problems))
    metric = Metric(name, fn, "maximize" if greater_is_better else "minimize", tasks,
                    needs_proba=needs_proba)
    return _claim("metric", name, lambda: METRICS.register(name, metric))


# --- jobs and workers -------------------------------------------------------------------


def provenance_of(model: str | None = None, split: str | None = None,
                  metric: str | None = None) -> tuple[tuple[str, str], ...]:
    """``(plugin name, provenance)`` of the plugins that the model, splitter and metric of a
    job come from (empty for built-ins): part of the job's id and of its row's ``versions``.

    Raises :class:`PluginError` for a name that a worker could not get (registered inside a
    function, or in an interactive session).
    """
    found: dict[str, str] = {}
    for kind, name in (("model", model), ("split", split), ("metric", metric)):
        if name is None:
            continue
        plugin = _plugin_loader.owner(kind, name)
        if plugin is None:
            continue
        why = _plugin_loader.unreachable(kind, name)
        if why:
            raise PluginError(why)
        found[plugin.name] = plugin.provenance
    return tuple(sorted(found.items()))


def shipped() -> tuple[Plugin, ...]:
    """The driver's plugins, as each job carries them to its worker."""
    return tuple(p for p in _plugin_loader.loaded() if p.ref != "<interactive>")


def ensure_plugins(plugins: Sequence[Plugin]) -> None:
    """Load in this (worker) process the plugins a job carries, as the driver had them.

    Each is loaded once per process; a file whose content changed since (a kept Dask
    worker, a new run) is loaded again in place of the old one. An installed plugin or a
    module must be importable here in the driver's version, else :class:`PluginError`
    says what differs.
    """
    for plugin in plugins:
        have = _plugin_loader.find(plugin.key)
        if have is not None and have.provenance == plugin.provenance:
            continue
        if plugin.source in ("file", "script"):
            if have is None and plugin.source == "script" and _script_ran(plugin):
                continue  # multiprocessing ran the driver's script here already
            run_file(plugin)
            continue
        if have is None:
            if plugin.source == "entry-point":
                _plugin_loader.autoload()
            else:
                _load_module_here(plugin)
            have = _plugin_loader.find(plugin.key)
        if have is None or have.provenance != plugin.provenance:
            here = have.provenance if have is not None else "not installed"
            raise PluginError(f"plugin {plugin.name} ({plugin.origin}): {here} on this worker, "
                              f"{plugin.provenance} on the driver; install the driver's "
                              f"version on every worker (and restart kept workers after a "
                              f"change)")


def _load_module_here(plugin: Plugin) -> None:
    try:
        load_module(plugin.ref)
    except PluginError as exc:
        raise PluginError(f"{exc} on this worker (a module plugin must be importable on "
                          f"every worker; a plugin file travels with the job)") from exc


def _script_ran(plugin: Plugin) -> bool:
    main = sys.modules.get("__mp_main__")
    file = getattr(main, "__file__", None)
    return bool(file) and os.path.realpath(file) == os.path.realpath(plugin.ref)


def check_registered(kind: str, name: str, plugins: Sequence[Plugin]) -> None:
    """After :func:`ensure_plugins`: raise :class:`PluginError` if a plugin's ``name`` is
    still unknown here (the plugin registers it only under ``if __name__ == "__main__"``
    or inside a function, which a worker does not run)."""
    registry = {"model": MODELS, "split": SPLITTERS, "metric": METRICS}.get(kind)
    if registry is None or registry.holds(name) or not plugins:
        return
    names = ", ".join(p.name for p in plugins)
    raise PluginError(f"{kind} {name!r} is not registered in this worker after loading the "
                      f"plugins ({names}): register it at the top level of the plugin, not "
                      f"inside a function or under if __name__ == '__main__'")
