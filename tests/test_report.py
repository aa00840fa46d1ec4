"""The HTML report: built from a real run, escaped, and loaded in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from tabbench.execution.config import load_config
from tabbench.execution.runner import run_benchmark
from tabbench.studies.report import build_report

ROOT = Path(__file__).resolve().parents[1]
EVIL = 'evil<b>"&x'
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    (folder / "second.toml").write_text(
        "name = 'second'\ntask = 'binary'\ntarget = 'target'\ngenerator = 'drift'\n"
        "time_column = 'ts'\ngenerator_params = {n_rows = 1200, seed = 4}\n")
    config = replace(load_config(ROOT / "configs" / "smoke.toml"), out=folder / "run",
                     datasets=("synthetic-drift", "second"))
    summary = run_benchmark(config, datasets_dirs=[folder])
    assert summary.counts["ok"] == summary.planned
    # names are identifiers, but a result file edited by hand can hold any text: the report
    # must still escape it
    for file in (folder / "run" / "results").glob("second-*.parquet"):
        pl.read_parquet(file).with_columns(pl.lit(EVIL.lower()).alias("dataset")).write_parquet(file)
    return build_report(folder / "run")


def test_report_has_every_section_and_escapes_names(report):
    page = report.read_text()
    for heading in ("Leaderboard: time split", "Leaderboard: random split", "Statistics",
                    "Elo", "Score against time", "Per dataset", "Random split against time",
                    "Does the random-split ranking predict the time-split ranking?",
                    "Friedman test and Elo per split strategy", "Shift against rank change"):
        assert heading in page, heading
    # one seed per model, stored predictions: per-dataset tau intervals from the test rows
    assert "bootstrap over test rows" in page and "none: 1 seed per model" not in page
    assert "No shift table in this run folder" in page  # run, not compare-splits
    # the jobs stored their predictions: per-dataset intervals and ties with the best
    assert "<th>tied_with_best</th>" in page and "<th>low</th>" in page
    assert ("95% interval of the test score averaged over the splits and seeds, a paired "
            "bootstrap of the test rows") in page
    assert EVIL.lower() not in page
    assert html_escape(EVIL.lower()) in page
    assert "http://" not in page and "https://" not in page  # self-contained
    assert len(re.findall(r'<img alt="[^"]*" src="data:image/png;base64,', page)) >= 4


def html_escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)


CHECK_HEAD = """<script>window.__errors=[];
window.addEventListener('error', e => window.__errors.push(String(e.message || (e.target && (e.target.src || e.target.href)))), true);
const __ce = console.error; console.error = (...a) => { window.__errors.push(a.join(' ')); __ce(...a); };
</script>"""
CHECK_BODY = """<script>window.addEventListener('load', () => {
const imgs = [...document.images];
document.body.setAttribute('data-check', JSON.stringify({errors: window.__errors,
  widths: imgs.map(i => i.naturalWidth), complete: imgs.every(i => i.complete)}));
});</script>"""


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120)


NO_CHROMIUM = pytest.mark.skipif(CHROMIUM is None,
                                 reason="Debian's chromium is not installed (.ci/run installs it)")
#: The reports committed with the reference result sets.
COMMITTED_REPORTS = sorted((ROOT / "leaderboard").glob("*/report.html"))


@NO_CHROMIUM
def test_report_loads_in_headless_chromium(report, tmp_path):
    check_in_chromium(report, tmp_path)


@NO_CHROMIUM
@pytest.mark.parametrize("report_path", COMMITTED_REPORTS,
                         ids=[p.parent.name for p in COMMITTED_REPORTS])
def test_committed_report_loads_in_headless_chromium(report_path, tmp_path):
    check_in_chromium(report_path, tmp_path)


def check_in_chromium(report: Path, tmp_path: Path) -> None:
    """The page loads without script or image errors, every figure renders, and a
    screenshot can be taken."""
    probe = tmp_path / "probe.html"
    page = report.read_text()
    page = page.replace("<head>", "<head>" + CHECK_HEAD, 1).replace("</body>", CHECK_BODY + "</body>", 1)
    probe.write_text(page)
    dumped = _chromium("--virtual-time-budget=10000", "--dump-dom", probe.as_uri(),
                       profile=tmp_path / "profile-a")
    match = re.search(r'data-check="([^"]*)"', dumped.stdout)
    assert match, dumped.stderr[-2000:]
    check = json.loads(match.group(1).replace("&quot;", '"'))
    assert check["errors"] == []
    assert check["complete"] and len(check["widths"]) >= 4
    assert all(width > 0 for width in check["widths"])
    screenshot = tmp_path / "report.png"
    shot = _chromium("--window-size=1200,2400", f"--screenshot={screenshot}", report.as_uri(),
                     profile=tmp_path / "profile-b")
    assert screenshot.is_file() and screenshot.stat().st_size > 10_000, shot.stderr[-2000:]
