"""The examples of README.md and the docs pages: found, and run as a reader would run them.

Imported by ``test_docs_examples.py`` to list the examples; run as a script
(``python tests/doc_examples.py PLAN.json``) to execute them all in one process, so the
libraries are imported once for every page (a ``tabbench`` command costs a second or two of
imports when started on its own).

What counts as an example: a fenced block whose language is ``bash``, ``console`` or
``python``. A ``console`` block's commands are its lines that start with ``$ `` (the other
lines are output); every line of a ``bash`` block is a command (``\\`` continues one);
a ``python`` block is executed. A block with a ``title="PATH"`` (a file the page asks you
to create) is written to that path instead, whatever its language, and later examples of
the page use it. ``<!-- skip: REASON -->`` on the line before a block leaves it out with
that reason; ``<!-- quote: SOURCE -->`` marks someone else's code quoted on the page, which
is not an example and is never run.

Each page runs in a scratch folder laid out like the repository (a copy of ``configs/``
and ``examples/``, and of each committed run folder its examples name,
``leaderboard/NAME``), its blocks in order, so a later block sees what an earlier one
wrote. A ``tabbench`` command runs in this process (``tabbench.cli.main``, as the console
script does), any other command through ``bash``; both must exit with code 0.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = ("bash", "console", "python")
FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
SKIP = re.compile(r"<!--\s*skip:\s*(.+?)\s*-->\s*$")
QUOTE = re.compile(r"<!--\s*quote:\s*(.+?)\s*-->\s*$")
TITLE = re.compile(r'title="([^"]+)"')
SHELL_SYNTAX = set("|&;<>()$`*?[]{}~")

#: Pages whose blocks are a record of work done, not examples to follow.
RECORDS = {
    "docs/temporal-suite-candidates.md":
        "the code that sized up each candidate table, kept as a record: it reads every "
        "candidate, and the alternates need packages tabbench does not install "
        "(vega_datasets, palmerpenguins)",
}


@dataclass(frozen=True)
class Example:
    page: str           # relative to the repository root
    line: int           # 1-based line of the opening fence
    language: str
    code: str
    title: str | None   # a file to write, not a command to run
    skip: str | None    # the reason, when the page says to skip it
    quoted: bool = False  # someone else's code, quoted: not an example, never run

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    def commands(self) -> list[str]:
        """The shell commands of a ``bash`` or ``console`` block, continuations joined."""
        lines = self.code.splitlines()
        if self.language == "console":
            lines = _console_commands(lines)
        commands, current = [], ""
        for line in lines:
            current += line
            if current.endswith("\\"):
                current = current[:-1] + " "
                continue
            if current.strip() and not current.lstrip().startswith("#"):
                commands.append(current.strip())
            current = ""
        return commands


def _console_commands(lines: list[str]) -> list[str]:
    kept, continuing = [], False
    for line in lines:
        if line.startswith("$ ") or continuing:
            kept.append(line[2:] if line.startswith("$ ") else line)
            continuing = line.endswith("\\")
    return kept


def examples(page: Path) -> list[Example]:
    """The example blocks of one Markdown page, in order."""
    text = page.read_text()
    found = []
    for match in FENCE.finditer(text):
        language, info, body = match.groups()
        title = TITLE.search(info)
        if language not in LANGUAGES and not title:
            continue
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marked = SKIP.search(before)
        quote = QUOTE.search(before)
        where = str(page.relative_to(ROOT))
        skip = (marked.group(1) if marked else
                f"quotes {quote.group(1)}, not tabbench's code" if quote else
                RECORDS.get(where))
        found.append(Example(page=where, line=text.count("\n", 0, match.start()) + 1,
                             language=language, code=body,
                             title=title.group(1) if title else None, skip=skip,
                             quoted=bool(quote)))
    return found


# --- running -----------------------------------------------------------------------------


def prepare_folder(folder: Path, blocks: list[Example]) -> None:
    """A scratch folder laid out like the repository, with what the examples read."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("configs", "examples"):
        shutil.copytree(ROOT / name, folder / name, dirs_exist_ok=True)
    text = "\n".join(block.code for block in blocks)
    for run in sorted(set(re.findall(r"leaderboard/([a-z0-9][a-z0-9._-]*)", text))):
        committed = ROOT / "leaderboard" / run
        if (committed / "results").is_dir() and not (folder / "leaderboard" / run).exists():
            shutil.copytree(committed, folder / "leaderboard" / run,
                            ignore=shutil.ignore_patterns("report.html"))


def run_tabbench(argv: list[str]) -> tuple[int, str]:
    """``tabbench ARGV`` in this process, as the console script runs it."""
    from tabbench.cli import main

    out = io.StringIO()
    code = 0
    old_argv = sys.argv
    sys.argv = ["tabbench", *argv]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        code, _ = 1, out.write(traceback.format_exc())
    finally:
        sys.argv = old_argv
    return code, out.getvalue()


def run_command(command: str, folder: Path) -> tuple[int, str]:
    words = shlex.split(command, comments=True)
    if words and words[0] == "tabbench" and not any(c in SHELL_SYNTAX for c in command):
        return run_tabbench(words[1:])
    finished = subprocess.run(["bash", "-c", command], cwd=folder, capture_output=True,
                              text=True, timeout=300)
    return finished.returncode, finished.stdout + finished.stderr


def run_python(block: Example) -> tuple[int, str]:
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            exec(compile(block.code, block.where, "exec"), {"__name__": "__main__"})
    except BaseException:
        return 1, out.getvalue() + traceback.format_exc()
    return 0, out.getvalue()


def run_page(blocks: list[Example], folder: Path) -> list[dict]:
    """Run one page's blocks in ``folder``; one record per block."""
    prepare_folder(folder, blocks)
    records = []
    for block in blocks:
        record = {**asdict(block), "status": "skipped" if block.skip else "ok",
                  "seconds": 0.0, "output": ""}
        records.append(record)
        if block.skip:
            continue
        os.chdir(folder)
        start = time.perf_counter()
        if block.title:
            target = folder / block.title
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.code)
        elif block.language == "python":
            code, output = run_python(block)
            record.update(status="ok" if code == 0 else "failed", output=output[-4000:])
        else:
            for command in block.commands():
                code, output = run_command(command, folder)
                if code != 0:
                    record.update(status="failed",
                                  output=f"$ {command}\nexit code {code}\n{output[-4000:]}")
                    break
        record["seconds"] = round(time.perf_counter() - start, 2)
    return records


def main(plan_file: str) -> None:
    plan = json.loads(Path(plan_file).read_text())
    records = []
    for page, folder in plan["pages"]:
        blocks = [block for block in examples(ROOT / page)]
        records += run_page(blocks, Path(folder))
    Path(plan["out"]).write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "Agg")
    main(sys.argv[1])
