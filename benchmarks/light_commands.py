"""Wall time of the light commands and of ``rank-features`` on a 100,000-row table.

Each command runs as a whole process (the installed ``tabbench`` console script), the
commands in turn (A B C … A B C …) so that a drift in the machine's speed reaches every
command alike; the median over ``--reps`` rounds is printed, after one warm-up round.

* ``tabbench --help``, ``datasets list``, ``datasets show flights`` (a file: its column
  counts come from the cache after the warm-up round), ``datasets show synthetic-drift``
  (generated: counted every time) and ``plugins``: target 0.5 s each;
* ``rank-features`` on a 100,000-row table (the ``drift`` generator's table, 22 features,
  written once as Parquet into a temporary registry folder): target 2 s.

For ``rank-features`` the process's time is then split in-process: importing the command's
modules, the ranking itself (``Ranking.seconds``) and the rest (loading, chart, files).
Which heavy libraries each command imports is printed too (``python -X importtime`` finds
the chain that brings one in).

Run: ``python benchmarks/light_commands.py [--reps 7]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("scipy", "sklearn", "pandas", "matplotlib", "optuna", "polars", "numpy")
N_ROWS = 100_000


def write_table(folder: Path) -> str:
    """A 100,000-row registry entry in ``folder``; return its name."""
    from tabbench.data.datasets.synthetic import generate

    generate("drift", n_rows=N_ROWS, seed=0).write_parquet(folder / "drift-100k.parquet")
    (folder / "drift-100k.toml").write_text(
        'name = "drift-100k"\ntask = "binary"\ntarget = "target"\n'
        'path = "drift-100k.parquet"\ntime_column = "ts"\n'
        'categorical = ["cat_0", "cat_1", "hicard_0"]\n')
    return "drift-100k"


def commands(folder: Path, out: Path) -> dict[str, list[str]]:
    script = shutil.which("tabbench") or sys.exit("the tabbench console script is not installed")
    return {
        "--help": [script, "--help"],
        "datasets list": [script, "datasets", "list"],
        "datasets show": [script, "datasets", "show", "flights"],
        "datasets show (generated)": [script, "datasets", "show", "synthetic-drift"],
        "plugins": [script, "plugins"],
        "rank-features 100k": [script, "rank-features", "drift-100k", "--datasets-dir",
                               str(folder), "--out", str(out)],
    }


def wall(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def heavy_imports(argv: list[str], env: dict[str, str]) -> list[str]:
    """The heavy top-level packages that the command imports."""
    code = ("import sys; sys.argv = " + repr(["tabbench", *argv[1:]]) + "\n"
            "from tabbench.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(' '.join(m for m in " + repr(HEAVY) + " if m in sys.modules), "
            "file=sys.stderr)")
    finished = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, check=True)
    return finished.stderr.strip().splitlines()[-1].split() if finished.stderr.strip() else []


def rank_features_breakdown(folder: Path, out: Path, env: dict[str, str]) -> dict[str, float]:
    """Import, ranking and the rest of one ``rank-features`` run, timed in a fresh process."""
    code = f"""
import json, sys, time
start = time.perf_counter()
from tabbench.cli import main
from tabbench.studies.topk import rank_and_save
imported = time.perf_counter()
ranking, _, _ = rank_and_save("drift-100k", out_dir=__import__("pathlib").Path({str(out)!r}),
                              top=20, datasets_dirs=[__import__("pathlib").Path({str(folder)!r})],
                              method="mi-corrected")
done = time.perf_counter()
print(json.dumps({{"imports": imported - start, "ranking": ranking.seconds,
                  "rest": done - imported - ranking.seconds}}))
"""
    finished = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, check=True)
    import json

    return json.loads(finished.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "datasets", Path(tmp) / "out"
        folder.mkdir()
        write_table(folder)
        env = {**os.environ, "COLUMNS": "80", "TABBENCH_CACHE": str(Path(tmp) / "cache"),
               "MPLBACKEND": "Agg"}
        runs = commands(folder, out)
        for argv in runs.values():  # warm-up: the dataset caches, the OS file cache
            wall(argv, env)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.reps):
            for name, argv in runs.items():
                times[name].append(wall(argv, env))
        print(f"{'command':<20} {'median s':>9} {'min s':>7} {'max s':>7}  heavy imports")
        for name, argv in runs.items():
            values = times[name]
            print(f"{name:<20} {statistics.median(values):9.2f} {min(values):7.2f} "
                  f"{max(values):7.2f}  {' '.join(heavy_imports(argv, env)) or '-'}")
        parts = [rank_features_breakdown(folder, out, env) for _ in range(3)]
        print("rank-features 100k, in-process (median of 3): " + ", ".join(
            f"{key} {statistics.median(p[key] for p in parts):.2f} s" for key in parts[0]))


if __name__ == "__main__":
    main()
