"""Names are identifiers, not paths: the one name pattern, and joins that cannot leave a folder.

Every file tabbench writes (dataset TOMLs, the dataset cache, results, trials, rankings,
reports) is placed with :func:`safe_join`, so a name taken from the command line, a config
or a registry TOML can never put a file outside the folder it belongs to.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tabbench.exceptions import TabbenchError

#: What a dataset, run or variant name may be: lowercase letters and digits, then also
#: ``.``, ``_`` and ``-``; at most 100 characters; never ``..``.
NAME_PATTERN = r"[a-z0-9][a-z0-9._-]{0,99}"
NAME_RULE = ("lowercase letters, digits, '.', '_' and '-', starting with a letter or digit, "
             "at most 100 characters, no '..'")
_NAME = re.compile(NAME_PATTERN)


def check_name(name: object, kind: str, where: str = "",
               error: type[TabbenchError] = TabbenchError) -> str:
    """Return ``name`` if it is a valid identifier; else raise ``error`` naming ``where``.

    ``kind`` says what is named (``"dataset name"``, ``"run name"`` …) in the message.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        prefix = f"{where}: " if where else ""
        message = f"{prefix}{kind} {name!r} is not a valid name: use {NAME_RULE}"
        raise error(message)
    return name


def safe_join(base: Path, *parts: str) -> Path:
    """``base / parts…``, resolved; raises :class:`TabbenchError` if it would leave ``base``."""
    root = Path(base).resolve()
    path = root.joinpath(*parts).resolve()
    if path != root and root not in path.parents:
        message = f"{root}: refusing to write {'/'.join(parts)!r} outside this folder"
        raise TabbenchError(message)
    return path


def ensure_dir(path: Path, what: str = "folder") -> Path:
    """Create ``path`` (and its parents) or raise :class:`TabbenchError` saying why not."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise TabbenchError(f"{path}: cannot use it as the {what}: a file of that name "
                            f"exists") from None
    except OSError as exc:
        raise TabbenchError(f"{path}: cannot create the {what} "
                            f"({exc.strerror or exc})") from None
    if not path.is_dir():
        raise TabbenchError(f"{path}: cannot use it as the {what}: not a folder")
    return path


def cache_dir() -> Path:
    """The folder of cached tables: ``$TABBENCH_CACHE`` or ``~/.cache/tabbench``."""
    root = os.environ.get("TABBENCH_CACHE") or Path.home() / ".cache" / "tabbench"
    return Path(root)
