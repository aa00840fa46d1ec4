"""The manual builds, with nothing broken, and renders in a real browser (#27).

``mkdocs build --strict`` fails on a broken link, a page missing from the nav or a
docstring mkdocstrings cannot render; the command-line reference is generated from the
``tabbench`` command itself (``docs/hooks/reference.py``), so it lists every command and
option; the built pages need no network; headless Chromium opens the home page and a page
with figures without a script error, a failed load or an empty image.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAGES = ["index.html", "getting-started.html", "your-data.html", "your-model.html",
         "compare-splits.html", "temporal-suite.html", "results.html", "confidence.html",
         "features.html", "explain.html", "novel-classes.html", "ncd.html", "cluster.html",
         "gpus.html", "architecture.html", "measurements.html", "reference/cli.html",
         "reference/api.html"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("site") / "site"
    finished = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert finished.returncode == 0, (
        "mkdocs build --strict failed (pip install -e '.[dev]' installs mkdocs):\n"
        + finished.stdout[-3000:] + finished.stderr[-5000:])
    return folder


@pytest.mark.slow
def test_the_site_builds_strictly_with_every_page(site):
    missing = [page for page in PAGES if not (site / page).is_file()]
    assert not missing
    for name in ("compare-splits.png", "cd-diagram.png"):
        assert (site / name).is_file()


@pytest.mark.slow
def test_the_site_needs_no_network(site):
    """No web fonts, no script or stylesheet from a CDN: it reads offline, from file://."""
    for page in PAGES:
        html = (site / page).read_text()
        assert "fonts.googleapis" not in html and "fonts.gstatic" not in html, page
        remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', html)
        assert not remote, (page, remote)


@pytest.mark.slow
def test_the_cli_reference_is_the_cli(site):
    import typer

    from tabbench.cli import app

    html = (site / "reference" / "cli.html").read_text()
    root = typer.main.get_command(app)
    context = root.context_class(root, info_name="tabbench")

    def walk(group, ctx):
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            sub = command.context_class(command, info_name=name, parent=ctx)
            yield command, sub
            if hasattr(command, "list_commands"):
                yield from walk(command, sub)

    commands = list(walk(root, context))
    assert len(commands) >= 12
    for command, ctx in commands:
        assert f"<code>{ctx.command_path}</code>" in html, ctx.command_path
        for param in command.params:
            for flag in getattr(param, "opts", []):
                if flag.startswith("--"):
                    assert flag in html, (ctx.command_path, flag)
    # generated, not copied: the source page holds only the marker
    source = (ROOT / "docs" / "reference" / "cli.md").read_text()
    assert "<!-- cli-reference -->" in source and "--max-rows" not in source


@pytest.mark.slow
def test_the_api_reference_documents_every_public_name(site):
    import tabbench

    html = (site / "reference" / "api.html").read_text()
    for name in tabbench.__all__:
        if not name.startswith("__"):
            assert f"tabbench.{name}</code></a>" in html, name


CHECK_HEAD = """<script>window.__errors=[];
window.addEventListener('error', e => window.__errors.push(String(e.message || (e.target && (e.target.src || e.target.href)))), true);
window.addEventListener('unhandledrejection', e => window.__errors.push('unhandled rejection: ' + String(e.reason)));
const __ce = console.error; console.error = (...a) => { window.__errors.push(a.join(' ')); __ce(...a); };
</script>"""
CHECK_BODY = """<script>window.addEventListener('load', () => setTimeout(() => {
const imgs = [...document.querySelectorAll('article img')];
const h1 = document.querySelector('article h1');
document.body.setAttribute('data-check', JSON.stringify({errors: window.__errors,
  title: h1 ? h1.textContent : null, widths: imgs.map(i => i.naturalWidth),
  complete: imgs.every(i => i.complete),
  styled: getComputedStyle(document.querySelector('.md-header')).position}));
}, 500));</script>"""


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None,
                    reason="Debian's chromium is not installed (.ci/run installs it)")
@pytest.mark.parametrize(("page", "title", "figures"), [
    ("index.html", "tabbench", 1),
    ("compare-splits.html", "Comparing split strategies", 2),
])
def test_pages_render_in_headless_chromium(site, tmp_path, page, title, figures):
    """The page loads with no script error and no failed load, its styles apply, its
    figures decode; and a screenshot can be taken (tests/screenshots/ keeps none: look at
    one with `chromium --headless --screenshot` when the theme changes)."""
    original = site / page
    probe = original.with_name("probe-" + original.name)
    html = original.read_text()
    probe.write_text(html.replace("<head>", "<head>" + CHECK_HEAD, 1)
                     .replace("</body>", CHECK_BODY + "</body>", 1))
    dumped = _chromium("--virtual-time-budget=10000", "--dump-dom", probe.as_uri(),
                       profile=tmp_path / "profile-a")
    match = re.search(r'data-check="([^"]*)"', dumped.stdout)
    assert match, dumped.stderr[-2000:]
    check = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert check["errors"] == []
    assert check["title"].strip().startswith(title)
    assert check["styled"] in ("sticky", "fixed"), "the theme's stylesheet did not apply"
    assert len(check["widths"]) == figures and all(w > 0 for w in check["widths"])
    assert check["complete"]
    screenshot = tmp_path / "page.png"
    shot = _chromium("--window-size=1200,1600", f"--screenshot={screenshot}", original.as_uri(),
                     profile=tmp_path / "profile-b")
    assert screenshot.is_file() and screenshot.stat().st_size > 20_000, shot.stderr[-2000:]
