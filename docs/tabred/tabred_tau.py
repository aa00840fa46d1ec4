#!/usr/bin/env python3
"""Kendall tau-b between model rankings under random vs time-based splits, TabReD published reports.

Source: github.com/yandex-research/tabred, paper/exp/temporal-shift-analysis/<model>/<dataset>-<split>-<k>/evaluation/<seed>/report.json
(split in {random, sliding-window}, k in {0,1,2}; split also recorded in report config.data.split, e.g. "random-0").
Also compares against the main-benchmark time split: paper/exp/<model>/<dataset>/evaluation/<seed>/report.json (config.data.split == "default").
Score: report["metrics"]["test"]["score"] (higher is better: ROC AUC for binclass, -RMSE for regression).
Usage: python tabred_tau.py [GIT_DIR] [--exclude-extra-seeds]
"""
import json, re, subprocess, sys
from collections import defaultdict
import numpy as np
from scipy.stats import kendalltau, rankdata

ARGS = [a for a in sys.argv[1:] if not a.startswith('--')]
GIT = ARGS[0] if ARGS else '/work/.mirror/yandex-research+tabred/repo'
DATASETS = ['homesite-insurance', 'ecom-offers', 'homecredit-default', 'sberbank-housing',
            'cooking-time', 'delivery-eta', 'maps-routing', 'weather']

def git(*a, inp=None):
    return subprocess.run(['git', '--git-dir', GIT, *a], input=inp, capture_output=True, check=True).stdout

commit = git('rev-parse', 'HEAD').decode().strip()
names = git('ls-tree', '-r', 'HEAD', '--name-only').decode().splitlines()
pat_ts = re.compile(r'^paper/exp/temporal-shift-analysis/([^/]+)/(.+)-(random|sliding-window)-(\d)/evaluation/(\d+)/report\.json$')
pat_main = re.compile(r'^paper/exp/([^/]+)/([^/]+)/evaluation/(\d+)/report\.json$')
sel = []
for n in names:
    m = pat_ts.match(n)
    if m:
        sel.append((n, ('ts',) + m.groups())); continue
    m = pat_main.match(n)
    if m and m.group(1) != 'temporal-shift-analysis':
        sel.append((n, ('main',) + m.groups()))

# batch-read blobs
inp = ''.join(f'HEAD:{n}\n' for n, _ in sel).encode()
out = git('cat-file', '--batch', inp=inp)
reports, pos = [], 0
for n, _ in sel:
    nl = out.index(b'\n', pos); hdr = out[pos:nl].split(); size = int(hdr[2])
    reports.append(json.loads(out[nl + 1:nl + 1 + size])); pos = nl + 1 + size + 1

# scores[(kind, model, dataset, splittype)] -> {split_k: [scores]}
scores = defaultdict(lambda: defaultdict(list))
task = {}
extra = []
EXCL_EXTRA = '--exclude-extra-seeds' in sys.argv
for (n, key), r in zip(sel, reports):
    if key[0] == 'ts':
        _, model, ds, st, k, seed = key
        assert r['config']['data']['split'] == f'{st}-{k}', n
        assert r['config']['data']['path'] == f':data/{ds}', n
    else:
        _, model, ds, seed = key; st, k = 'default', 'default'
        assert r['config']['data'].get('split', 'default') == 'default', n
    t = r['metrics']['test']
    if 'roc-auc' in t:
        task[ds] = 'binclass: score = test ROC AUC, higher better'; assert t['score'] == t['roc-auc'], n
    elif 'rmse' in t:
        task[ds] = 'regression: score = -test RMSE, higher better'; assert t['score'] == -t['rmse'], n
    else:
        assert list(t) == ['score'], n  # e.g. paper/exp/dfr/* reports store only 'score' (not used in the analyses below)
    if int(seed) >= 15: extra.append((n, r['config']['seed'], t['score']))
    if EXCL_EXTRA and int(seed) >= 15: continue
    scores[(key[0], model, ds, st)][k].append(t['score'])

def agg(kind, model, ds, st, how='pooled'):
    d = scores.get((kind, model, ds, st))
    if not d: return None
    if how == 'pooled':
        return float(np.mean([x for v in d.values() for x in v]))
    return float(np.mean([np.mean(v) for v in d.values()]))  # mean of per-split means

def analyse(label, kind_t, st_t, how, models_filter=None, out=print):
    out(f'\n===== {label}  (aggregation: {how}) =====')
    taus, ranks_r, ranks_t = [], defaultdict(list), defaultdict(list)
    for ds in DATASETS:
        ms = sorted({m for (kk, m, d, s) in scores if kk == 'ts' and d == ds and s == 'random'}
                    & {m for (kk, m, d, s) in scores if kk == kind_t and d == ds and s == st_t})
        if models_filter: ms = [m for m in ms if m in models_filter]
        r = np.array([agg('ts', m, ds, 'random', how) for m in ms])
        t = np.array([agg(kind_t, m, ds, st_t, how) for m in ms])
        rr, rt = rankdata(-r), rankdata(-t)  # 1 = best
        tau = kendalltau(t, r).statistic  # tau-b (default variant)
        taus.append(tau)
        for m, a, b in zip(ms, rr, rt): ranks_r[m].append(a); ranks_t[m].append(b)
        out(f'{ds:20s} [{task[ds]}] n_models={len(ms)} tau_b={tau:+.4f}')
        for m, a, b, x, y in zip(ms, r, t, rr, rt):
            nr = sum(len(v) for v in scores[('ts', m, ds, 'random')].values())
            nt = sum(len(v) for v in scores[(kind_t, m, ds, st_t)].values())
            sr = np.std([v for vv in scores[('ts', m, ds, 'random')].values() for v in vv], ddof=1)
            sd = np.std([v for vv in scores[(kind_t, m, ds, st_t)].values() for v in vv], ddof=1)
            out(f'    {m:10s} random={a:+.5f} (sd {sr:.5f}, n={nr:2d}, rank {x:.0f})   {st_t}={b:+.5f} (sd {sd:.5f}, n={nt:2d}, rank {y:.0f})')
    taus = np.array(taus)
    rng = np.random.default_rng(0)
    boots = taus[rng.integers(0, len(taus), size=(10000, len(taus)))].mean(axis=1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    out(f'per-dataset tau: ' + ', '.join(f'{d}={x:+.4f}' for d, x in zip(DATASETS, taus)))
    out(f'mean tau = {taus.mean():.4f}; 95% percentile bootstrap CI (datasets resampled, 10000, seed 0) = [{lo:.4f}, {hi:.4f}]')
    out('mean rank (1=best) over datasets:  model: random / ' + st_t)
    for m in sorted(ranks_r):
        out(f'    {m:10s} {np.mean(ranks_r[m]):.3f} / {np.mean(ranks_t[m]):.3f}   (n_datasets={len(ranks_r[m])})')
    return taus

print(f'repo commit {commit}')
print('models with random-split reports:', sorted({m for (k, m, d, s) in scores if k == 'ts' and s == 'random'}))
print('models with sliding-window reports:', sorted({m for (k, m, d, s) in scores if k == 'ts' and s == 'sliding-window'}))
print('models with main (default split) reports:', sorted({m for (k, m, d, s) in scores if k == 'main'}))
# NaN / degenerate check
bad = [(k, v) for k, d in scores.items() for kk, v in d.items() if not np.all(np.isfinite(v))]
print('non-finite scores:', bad)
print('evaluation dirs with seed index >= 15 (included like paper/tool/tables-gen.py globbing evaluation/**; drop with --exclude-extra-seeds):', extra, 'EXCLUDED' if EXCL_EXTRA else 'INCLUDED')

analyse('PRIMARY: random vs sliding-window (temporal-shift-analysis)', 'ts', 'sliding-window', 'pooled')
analyse('random vs sliding-window, mean of per-split-index means', 'ts', 'sliding-window', 'split-mean')
analyse('SECONDARY: random (temporal-shift-analysis) vs main-benchmark default time split', 'main', 'default', 'pooled')
