"""The run-folder lock: one process at a time writes into a run folder.

A driver holds an exclusive :class:`filelock.FileLock` on ``<run folder>/.tabbench.lock``
while it works. On Unix that is an ``flock``, which the kernel drops when its process
ends, however it ends (Ctrl-C, a crash, SIGKILL), so a lock left by a dead driver is
simply taken by the next one. The lock's file descriptor is not inherited by the job
processes (they are started through a forkserver or by Dask, never by a plain fork of
the driver), so a stray job cannot keep a folder locked.

The holder writes its process id, host and command to ``.tabbench.lock.json`` next to the
lock, so that a second driver is refused at once with a :class:`RunFolderBusy` that
says who holds the folder. Within one process the lock is re-entrant: a command that
calls :func:`~tabbench.execution.runner.run_benchmark` while holding the folder keeps it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from tabbench.core._atomic import write_atomic_bytes
from tabbench.exceptions import TabbenchError

LOCK_NAME = ".tabbench.lock"
HOLDER_NAME = ".tabbench.lock.json"

#: How long a refused driver waits for the holder to have written its name.
_HOLDER_WAIT_S = 1.0

_held: dict[Path, int] = {}  # folders this process holds → nesting depth


class RunFolderBusy(TabbenchError):
    """Another process holds the run folder's lock."""


@contextlib.contextmanager
def run_folder_lock(folder: Path, command: str = "tabbench run") -> Iterator[Path]:
    """Hold ``folder`` (which must exist) for this process; yield the lock file's path.

    Raises :class:`RunFolderBusy` at once, naming the folder and the holder's process id,
    when another process holds it. ``command`` is how a refused driver names this one.

    Examples
    --------
    >>> with run_folder_lock(out_dir, "tabbench explain"):  # doctest: +SKIP
    ...     write_result(out_dir, row, None)
    """
    from filelock import FileLock, Timeout

    folder = Path(folder)
    key = folder.resolve()
    path = folder / LOCK_NAME
    if key in _held:  # re-entrant within this process
        _held[key] += 1
        try:
            yield path
        finally:
            _held[key] -= 1
        return
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RunFolderBusy(_busy_message(folder)) from None
    except OSError as exc:
        raise TabbenchError(f"{folder}: cannot lock the run folder "
                            f"({exc.strerror or exc})") from None
    _held[key] = 1
    try:
        _write_holder(folder, command)
        yield path
    finally:
        del _held[key]
        with contextlib.suppress(OSError):
            (folder / HOLDER_NAME).unlink()
        lock.release()


def _write_holder(folder: Path, command: str) -> None:
    """Record who holds the lock; best effort (a full disk must not stop the run here)."""
    holder = folder / HOLDER_NAME
    with contextlib.suppress(OSError):
        holder.unlink()  # a dead holder's record must not name it as the holder
    record = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
              "since": datetime.now(UTC).isoformat(timespec="seconds")}
    with contextlib.suppress(TabbenchError):
        write_atomic_bytes(holder, json.dumps(record).encode())


def holder(folder: Path) -> dict | None:
    """The record of the process holding ``folder``'s lock, or ``None`` if there is none."""
    try:
        record = json.loads((Path(folder) / HOLDER_NAME).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("pid"), int):
        return None
    return record


def _busy_message(folder: Path) -> str:
    # The holder writes its record just after it takes the lock: give it a moment, and do
    # not name a process of this host that is gone (the record of a killed driver).
    deadline = time.monotonic() + _HOLDER_WAIT_S
    record = holder(folder)
    while (record is None or not _may_be_alive(record)) and time.monotonic() < deadline:
        time.sleep(0.05)
        record = holder(folder)
    if record is None:
        who = "another tabbench process"
    else:
        who = (f"another {record.get('command') or 'tabbench process'} (pid {record['pid']} "
               f"on host {record.get('host', '?')})")
    return f"{folder}: {who} is using this run folder; wait for it or pass another --out"


def _may_be_alive(record: dict) -> bool:
    if record.get("host") != socket.gethostname():
        return True  # another machine's process: nothing to check
    try:
        os.kill(record["pid"], 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True
