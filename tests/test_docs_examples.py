"""Every shell and Python example of README.md and docs/*.md runs, so none can rot (#27).

The examples run as a reader runs them, one page after another in one scratch folder laid
out like the repository (``tests/doc_examples.py`` says exactly how), with a private
dataset cache; a later page may reuse what an earlier one computed (``compare-splits``
reuses the jobs of getting-started), but each page's commands would run on their own too.
A block too slow for the tests, or needing the network, carries ``<!-- skip: REASON -->``;
the plugin page's commands are run, and their results checked, by test_docs_plugins.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from doc_examples import RECORDS, ROOT, examples

HERE = Path(__file__).resolve().parent
#: The pages in the order a reader meets them: getting started leaves a run folder behind.
PAGES = ["README.md", "docs/getting-started.md",
         *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")
                 if p.name != "getting-started.md")]
#: The most blocks that may be skipped: each one is an example nobody checks.
MAX_SKIPPED = 16


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> dict[str, list[dict]]:
    folder = tmp_path_factory.mktemp("docs-examples")
    plan = {"pages": [[page, str(folder / "scratch")] for page in PAGES],
            "out": str(folder / "records.json")}
    (folder / "plan.json").write_text(json.dumps(plan))
    env = {**os.environ, "TABBENCH_CACHE": str(folder / "cache"), "COLUMNS": "100",
           "MPLBACKEND": "Agg",
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    env.pop("TABBENCH_DATASETS", None)
    finished = subprocess.run([sys.executable, str(HERE / "doc_examples.py"),
                               str(folder / "plan.json")], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=900)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    by_page = defaultdict(list)
    for record in json.loads(Path(plan["out"]).read_text()):
        by_page[record["page"]].append(record)
    return by_page


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_example_of_the_page_runs(records, page):
    failed = [f"{r['page']}:{r['line']} ({r['language']}, {r['seconds']} s)\n{r['output']}"
              for r in records[page] if r["status"] == "failed"]
    assert not failed, "\n\n".join(failed)
    assert len(records[page]) == len(examples(ROOT / page))


def test_skipped_examples_are_few_and_say_why():
    skipped = [block for page in PAGES for block in examples(ROOT / page) if block.skip]
    own = [block for block in skipped if block.page not in RECORDS and not block.quoted]
    assert all(len(block.skip) > 20 for block in skipped), [b.where for b in skipped]
    assert len(own) <= MAX_SKIPPED, [f"{b.where}: {b.skip}" for b in own]


def test_the_readme_is_a_front_door():
    """At most 200 lines; every link into docs/ points at a page that exists."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    links = [line.split("](", 1)[1].split(")", 1)[0] for line in readme.split("[")[1:]
             if "](docs/" in line]
    assert links, "the README links into the docs"
    for link in links:
        assert (ROOT / link.split("#", 1)[0]).is_file(), link
