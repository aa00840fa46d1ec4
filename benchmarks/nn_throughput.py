"""Training throughput and peak memory of the deep models on the bundled flights data.

For each deep model (default params) and each device (the CPU, plus CUDA when torch sees a
GPU), this trains for a few epochs on the training part of the flights time split
(preprocessed by the ``nn`` family, optionally subsampled) and prints

* **train rows/s**: training rows × epochs / fit seconds (no validation pass);
* **predict rows/s**: validation rows / seconds of ``predict_proba``;
* **peak MB**: on the CPU, the growth of the process's peak resident memory during the fit,
  over a process that already holds the data and has run a warm-up fit on 1,024 rows
  (libraries and thread pools loaded; ``VmHWM`` reset through ``/proc/self/clear_refs``
  before the fit, ``ru_maxrss`` where that is not possible); on CUDA, ``torch.cuda.max_memory_allocated`` (the training matrix copied
  to the GPU included);
* **× X_train**: that peak over the size of the training matrix (target: <= 2);
* **predict MB**: the same growth during ``predict_proba`` on the validation rows (on CUDA,
  the peak allocated during it) -- what a fit with validation adds after every epoch.

Every measurement runs in a fresh child process (so peaks do not mix), the models and
devices interleaved (A B C D, A B C D, …); medians over the repetitions are printed.

    python benchmarks/nn_throughput.py [--max-rows 100000] [--epochs 2] [--reps 3]
                                       [--threads 1] [--models mlp,mlp-plr,resnet,tabm]
                                       [--devices cpu,cuda]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MODELS = "mlp,mlp-plr,resnet,tabm"


def prepare(max_rows: int | None, threads: int, folder: Path) -> dict:
    """Preprocess flights once and store the arrays for the child processes."""
    from tabbench.data.datasets.registry import get_spec
    from tabbench.data.datasets.sample import load_subsample
    from tabbench.execution.config import BUDGETS
    from tabbench.execution.job import Job, find_split
    from tabbench.methods.preprocess import prepare_data

    spec = get_spec("flights")
    dataset = load_subsample(spec, max_rows)
    job = Job(run="nn-throughput", spec=spec, dataset_fingerprint=dataset.fingerprint,
              split_strategy="time", split_id="time-0", model="mlp", variant="default", seed=0,
              budget=BUDGETS.get("smoke"), metric="roc_auc", max_rows=max_rows, device="cpu",
              n_threads=threads)
    split = find_split(dataset, job)
    data = prepare_data(dataset, split, "nn", metric="roc_auc", seed=0, n_threads=threads,
                        device="cpu")
    np.save(folder / "X_train.npy", data.X_train)
    np.save(folder / "y_train.npy", data.y_train)
    np.save(folder / "X_val.npy", data.X_val)
    ctx = data.context
    info = {"task": ctx.task, "n_classes": ctx.n_classes, "feature_names": ctx.feature_names,
            "categorical": ctx.categorical, "cardinalities": ctx.cardinalities}
    (folder / "context.json").write_text(json.dumps(info))
    return {"n_train": data.X_train.shape[0], "n_features": data.X_train.shape[1],
            "n_val": data.X_val.shape[0], "categorical": len(ctx.categorical),
            "mb": data.X_train.nbytes / 2**20}


def _rss_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset ``VmHWM`` to the current RSS; false where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_since(reset: bool, before_kib: int | None) -> float:
    """MB the process's peak RSS grew by since ``before_kib`` was read."""
    after_kib = _rss_kib("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max(0, (after_kib or 0) - (before_kib or 0)) / 1024


def child(folder: Path, model: str, device: str, epochs: int, threads: int) -> None:
    """One measurement; prints one JSON line."""
    from tabbench.methods.models import FitContext, get_model

    X_train = np.load(folder / "X_train.npy")
    y_train = np.load(folder / "y_train.npy")
    X_val = np.load(folder / "X_val.npy")
    info = json.loads((folder / "context.json").read_text())
    context = FitContext(task=info["task"], n_classes=info["n_classes"],
                         feature_names=tuple(info["feature_names"]),
                         categorical=tuple(info["categorical"]),
                         cardinalities=tuple(info["cardinalities"]), seed=0, n_threads=threads,
                         device=device)
    import torch  # loaded before the baseline so that its libraries are not counted

    if device == "cuda":
        torch.zeros(1, device="cuda")
        torch.cuda.reset_peak_memory_stats()
    spec = get_model(model)
    params = {**spec.default_params, "max_epochs": epochs, "patience": epochs}
    # warm-up on a few rows: libraries, kernels and thread pools are loaded before the baseline
    spec.build({**params, "max_epochs": 1}, context).fit(X_train[:1024], y_train[:1024])
    estimator = spec.build(params, context)
    reset = _reset_peak()
    before_kib = _rss_kib("VmRSS") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    estimator.fit(X_train, y_train)
    if device == "cuda":
        torch.cuda.synchronize()
    fit_seconds = time.perf_counter() - started
    if device == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
        allocated = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    else:
        peak = _peak_since(reset, before_kib)
        reset = _reset_peak()
        before_kib = (_rss_kib("VmRSS") if reset
                      else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    started = time.perf_counter()
    estimator.predict_proba(X_val)
    if device == "cuda":
        torch.cuda.synchronize()
    predict_seconds = time.perf_counter() - started
    if device == "cuda":
        predict_peak = (torch.cuda.max_memory_allocated() - allocated) / 2**20
    else:
        predict_peak = _peak_since(reset, before_kib)
    print(json.dumps({
        "model": model, "device": estimator.device_, "epochs": estimator.n_epochs_,
        "train_rows_per_s": X_train.shape[0] * estimator.n_epochs_ / fit_seconds,
        "predict_rows_per_s": X_val.shape[0] / predict_seconds, "peak_mb": peak,
        "predict_peak_mb": predict_peak,
        "fit_seconds": fit_seconds,
    }))


def torch_has_cuda() -> bool:
    from tabbench.core.device import cuda_available

    if not cuda_available():
        return False
    probe = "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"
    return subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-rows", type=int, default=100_000,
                        help="subsample flights to this many rows (0: all 327,346)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1: steadiest)")
    parser.add_argument("--models", default=MODELS)
    parser.add_argument("--devices", default=None, help="default: cpu, and cuda when present")
    parser.add_argument("--child", nargs=3, metavar=("FOLDER", "MODEL", "DEVICE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        folder, model, device = args.child
        child(Path(folder), model, device, args.epochs, args.threads)
        return

    devices = (args.devices or ("cpu,cuda" if torch_has_cuda() else "cpu")).split(",")
    models = args.models.split(",")
    with tempfile.TemporaryDirectory(prefix="tabbench-nn-") as tmp:
        folder = Path(tmp)
        shape = prepare(args.max_rows or None, args.threads, folder)
        print(f"flights (time split): {shape['n_train']:,} training rows x "
              f"{shape['n_features']} features ({shape['categorical']} embedded categorical), "
              f"X_train {shape['mb']:.1f} MB; {args.epochs} epochs, {args.threads} CPU "
              f"thread(s), {args.reps} interleaved repetitions, devices: {', '.join(devices)}")
        results: dict[tuple[str, str], list[dict]] = {}
        for _ in range(args.reps):
            for model in models:
                for device in devices:
                    command = [sys.executable, __file__, "--child", str(folder), model, device,
                               "--epochs", str(args.epochs), "--threads", str(args.threads)]
                    out = subprocess.run(command, capture_output=True, text=True, check=False)
                    if out.returncode != 0:
                        print(f"{model} on {device} failed:\n{out.stderr[-2000:]}")
                        continue
                    row = json.loads(out.stdout.strip().splitlines()[-1])
                    results.setdefault((model, row["device"]), []).append(row)

    header = (f"{'model':<9} {'device':<6} {'train rows/s':>13} {'predict rows/s':>15} "
              f"{'peak MB':>9} {'x X_train':>10} {'predict MB':>11}")
    print(header)
    for model in models:
        for device in devices:
            rows = results.get((model, device))
            if not rows:
                continue
            train = statistics.median(r["train_rows_per_s"] for r in rows)
            predict = statistics.median(r["predict_rows_per_s"] for r in rows)
            peak = statistics.median(r["peak_mb"] for r in rows)
            predict_peak = statistics.median(r["predict_peak_mb"] for r in rows)
            print(f"{model:<9} {device:<6} {train:>13,.0f} {predict:>15,.0f} {peak:>9.1f} "
                  f"{peak / shape['mb']:>10.2f} {predict_peak:>11.1f}")
    if len(devices) > 1:
        print("GPU speed-up (train rows/s, cuda / cpu):")
        for model in models:
            cpu, gpu = results.get((model, "cpu")), results.get((model, "cuda"))
            if cpu and gpu:
                ratio = (statistics.median(r["train_rows_per_s"] for r in gpu)
                         / statistics.median(r["train_rows_per_s"] for r in cpu))
                print(f"  {model:<9} {ratio:,.1f}x")


if __name__ == "__main__":
    main()
