#!/usr/bin/env bash
# Record the outputs #15 promises not to change: the default `run`, `leaderboard`,
# `compare-splits`, `rank-features flights` (plain and --evaluate), `explain` (three surrogate
# kinds) and `ncd`, then canonicalize them (timing columns and lines dropped) for `diff -r`.
#
#   docs/redesign/record_outputs.sh OUT [PACKAGE_ROOT]
#
# PACKAGE_ROOT (default: this checkout) is put first on PYTHONPATH, so an older checkout
# (a `git worktree`) can be recorded with the same installed dependencies. Record two
# checkouts into OUT folders whose paths have the same length: the printed tables wrap
# long paths, so a longer path moves the line breaks.
set -euo pipefail
OUT=$(realpath -m "$1")
ROOT=$(realpath "${2:-$(dirname "$0")/../..}")
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export TABBENCH_CACHE="$OUT/cache" COLUMNS=160 NO_COLOR=1 TERM=dumb
TB=(python -m tabbench.cli)
mkdir -p "$OUT/raw" "$OUT/text"
cd "$ROOT"
t() { local name=$1; shift; echo "== $name: tabbench $*" >&2
      "${TB[@]}" "$@" >"$OUT/text/$name.txt" 2>"$OUT/text/$name.stderr" || echo "exit $?" >>"$OUT/text/$name.txt"; }
t run run --out "$OUT/raw/run"
t leaderboard leaderboard "$OUT/raw/run"
t compare-splits compare-splits --dataset flights --dataset bikeshare \
  --models dummy,linear,lightgbm --budget smoke --max-rows 3000 --out "$OUT/raw/cs"
t rank-features rank-features flights --max-rows 20000 --out "$OUT/raw/rf"
t rank-features-3mr rank-features flights --method 3mr --max-rows 20000 --out "$OUT/raw/rf-3mr"
t rank-features-evaluate rank-features flights --evaluate --models lightgbm,linear --k 3,6 \
  --budget smoke --max-rows 5000 --out "$OUT/raw/rf-eval"
for kind in tree rules linear; do
  t "explain-$kind" explain -d flights -m lightgbm --surrogate "$kind" --row 3 \
    --max-rows 20000 --out "$OUT/raw/run"
done
t ncd ncd --novel-classes 0,3,5 --estimate-k --out "$OUT/raw/ncd"
python "$(dirname "$(realpath "$0")")/canonical_outputs.py" "$OUT"
