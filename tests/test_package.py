"""Package-level promises: a light import, a public API, exceptions that carry their names."""

from __future__ import annotations

import subprocess
import sys

import tabbench
from tabbench.exceptions import UnknownNameError

HEAVY = ("torch", "xgboost", "lightgbm", "catboost", "dask", "distributed", "optuna")


def test_import_tabbench_stays_light():
    code = f"import sys, tabbench; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""


def test_public_api_resolves():
    for name in tabbench.__all__:
        assert getattr(tabbench, name) is not None


def test_unknown_name_error_message_is_plain():
    error = UnknownNameError("model", "gpt", ["b", "a"], where="x.toml")
    assert str(error) == "x.toml: unknown model 'gpt'; valid names are: a, b"
