"""GPU detection and the device parameters of each library.

Nothing heavy is imported here at module import; each check runs once per process.
"""

from __future__ import annotations

import ctypes
import functools
import os
import subprocess
import sys
import warnings
from typing import Any

from tabbench.exceptions import TabbenchError, UnknownNameError

__all__ = [
    "catboost_device_params",
    "cuda_available",
    "lightgbm_device_params",
    "resolve_device",
    "xgboost_device_params",
]

DEVICES = ("auto", "cpu", "cuda")

# Run in a child process: initializing the CUDA driver in this process would break CUDA in
# processes forked from it later (the local executor forks workers).
_PROBE = """
import ctypes, sys
lib = ctypes.CDLL("libcuda.so.1")
count = ctypes.c_int(0)
ok = lib.cuInit(0) == 0 and lib.cuDeviceGetCount(ctypes.byref(count)) == 0
sys.exit(0 if ok and count.value > 0 else 1)
"""

_LIGHTGBM_PROBE = """
import numpy as np, lightgbm as lgb
X = np.random.default_rng(0).normal(size=(256, 4))
y = (X[:, 0] > 0).astype(float)
params = {"device_type": "gpu", "objective": "binary", "verbosity": -1, "num_threads": 1}
lgb.train(params, lgb.Dataset(X, y), num_boost_round=2)
"""


@functools.cache
def cuda_available() -> bool:
    """Whether a CUDA device can be used by this process.

    Checks the NVIDIA driver (``libcuda``) and asks it for a device count in a child
    process, so neither torch nor the CUDA driver is loaded here. ``CUDA_VISIBLE_DEVICES``
    set to an empty string or ``-1`` hides all devices. The answer is cached.
    """
    if os.environ.get("CUDA_VISIBLE_DEVICES", "unset").strip() in ("", "-1"):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        ctypes.CDLL("libcuda.so.1")  # loading the library does not initialize the driver
    except OSError:
        return False
    try:
        result = subprocess.run(
            [sys.executable, "-I", "-c", _PROBE], capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


def resolve_device(requested: str) -> str:
    """Turn a requested device into the one to use.

    Parameters
    ----------
    requested : {"auto", "cpu", "cuda"}
        ``auto`` means CUDA when available, otherwise CPU.

    Returns
    -------
    str
        ``"cpu"`` or ``"cuda"``.

    Raises
    ------
    TabbenchError
        If ``cuda`` is requested and no CUDA device is available.
    UnknownNameError
        If ``requested`` is not one of the valid names.
    """
    device = requested.lower()
    if device not in DEVICES:
        raise UnknownNameError("device", requested, DEVICES)
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    if device == "cuda" and not cuda_available():
        message = "device 'cuda' was requested but no CUDA device is available; use 'auto' or 'cpu'"
        raise TabbenchError(message)
    return device


def _fallback(library: str, reason: str) -> None:
    warnings.warn(f"{library} cannot use the GPU ({reason}); running on CPU", stacklevel=3)


@functools.cache
def _xgboost_has_cuda() -> bool:
    # deferred: XGBoost is heavy to import
    import xgboost

    return bool(xgboost.build_info().get("USE_CUDA", False))


def xgboost_device_params(device: str) -> dict[str, Any]:
    """XGBoost params for ``device`` (``"cpu"`` or ``"cuda"``).

    Falls back to the CPU, with a warning, when this XGBoost build has no CUDA support.
    The device actually used is ``params["device"]``.
    """
    if device == "cuda":
        if _xgboost_has_cuda():
            return {"device": "cuda"}
        _fallback("xgboost", "this build has no CUDA support")
    return {"device": "cpu"}


@functools.cache
def _catboost_gpu_count() -> int:
    # deferred: CatBoost is heavy to import
    from catboost.utils import get_gpu_device_count

    return int(get_gpu_device_count())


def catboost_device_params(device: str) -> dict[str, Any]:
    """CatBoost params for ``device`` (``"cpu"`` or ``"cuda"``).

    Falls back to the CPU, with a warning, when CatBoost sees no GPU. The device actually
    used is the GPU when ``params["task_type"] == "GPU"``.
    """
    if device == "cuda":
        if _catboost_gpu_count() > 0:
            return {"task_type": "GPU", "devices": "0"}
        _fallback("catboost", "it sees no GPU")
    return {"task_type": "CPU"}


@functools.cache
def _lightgbm_gpu_works() -> bool:
    # The PyPI wheel's GPU mode needs an OpenCL runtime; a failed attempt may abort the
    # process, so try it in a child process.
    try:
        result = subprocess.run(
            [sys.executable, "-c", _LIGHTGBM_PROBE], capture_output=True, timeout=120, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


def lightgbm_device_params(device: str) -> dict[str, Any]:
    """LightGBM params for ``device`` (``"cpu"`` or ``"cuda"``).

    LightGBM's GPU mode (``device_type="gpu"``, OpenCL) is used only when a trial run
    succeeds on this machine; otherwise LightGBM runs on the CPU (without a warning: that
    is the common case). The device actually used is the GPU when
    ``params["device_type"] == "gpu"``.
    """
    if device == "cuda" and cuda_available() and _lightgbm_gpu_works():
        return {"device_type": "gpu"}
    return {"device_type": "cpu"}
