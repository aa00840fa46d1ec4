"""Where a plugin's code comes from: a Python file or an importable module, found, run and
recorded with its provenance.

:func:`load_file` runs a plugin file (its bytes, as hashed: :func:`run_file` runs the same
bytes in a worker) and :func:`load_module` imports a plugin module, each under the record of
:mod:`tabbench.core._plugin_loader` and once per process. :func:`file_plugin` and
:func:`module_plugin` make a plugin's record: a file's sha256; a module's distribution and
version when an installed distribution holds its file, else the sha256 of its file. That
provenance is part of the id of every job that uses the plugin, so it must not change while
the code does not. The public doors (``load_plugins``, the registration functions, the
workers' side) are in :mod:`tabbench.methods.plugins`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import re
import sys
import types
from pathlib import Path
from typing import Any

from tabbench.core import _plugin_loader
from tabbench.core._plugin_loader import Plugin, file_sha256, module_file, module_sha256
from tabbench.exceptions import PluginError

__all__ = ["file_plugin", "is_path", "load_file", "load_module", "module_plugin", "run_file"]


def is_path(text: str) -> bool:
    """Whether a ``--plugin`` argument names a file (else a module)."""
    return (text.endswith(".py") or "/" in text or os.sep in text
            or text.startswith(("~", ".")))


def file_plugin(path: Path, data: bytes, source: str = "file") -> Plugin:
    """The record of a plugin file: its module name depends on its path only, so the same
    file runs under the same name in every process."""
    tag = file_sha256(str(path).encode())[:10]
    stem = re.sub(r"\W", "_", path.stem)
    return Plugin(name=path.name, source=source, ref=str(path),  # type: ignore[arg-type]
                  module=f"_tabbench_plugin_{stem}_{tag}", sha256=file_sha256(data), text=data)


def load_file(path: Path) -> Plugin:
    """Run a plugin file, unless this process ran the same bytes already."""
    data = path.read_bytes()
    plugin = file_plugin(path, data)
    known = _plugin_loader.find(plugin.key)
    if known is not None and known.provenance == plugin.provenance:
        return known
    return run_file(plugin)


def run_file(plugin: Plugin) -> Plugin:
    """Run a file plugin's shipped bytes as its module (its folder on ``sys.path``, so a
    helper module beside it imports, as when Python runs a script)."""
    folder = str(Path(plugin.ref).parent)
    if os.path.isdir(folder) and folder not in sys.path:
        sys.path.append(folder)
    module = types.ModuleType(plugin.module)
    module.__file__ = plugin.ref
    sys.modules[plugin.module] = module
    assert plugin.text is not None

    def action() -> None:
        exec(compile(plugin.text, plugin.ref, "exec"), module.__dict__)

    try:
        return _plugin_loader.run_plugin(plugin, action)
    except PluginError:
        sys.modules.pop(plugin.module, None)
        raise


def load_module(name: str, prefix: str = "", parameter: str | None = None) -> Plugin:
    """Import a plugin module once (``prefix`` and ``parameter``: for the error)."""
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise PluginError(f"{prefix}plugin {name!r}: no module of that name can be imported "
                          f"(and it is not a file path: a file plugin ends in .py)",
                          parameter=parameter)
    plugin = module_plugin(name)
    known = _plugin_loader.find(plugin.key)
    if known is not None:
        return known
    return _plugin_loader.run_plugin(plugin, lambda: importlib.import_module(name))


def module_plugin(name: str) -> Plugin:
    """A module's record: the distribution and version that installed its file, else the
    sha256 of its file (a module on ``PYTHONPATH``, an editable install)."""
    dist = _installed_by(name)
    if dist is None:
        return Plugin(name=name, source="module", ref=name, module=name,
                      sha256=module_sha256(name))
    return Plugin(name=name, source="module", ref=name, module=name, distribution=dist.name,
                  version=dist.version)


def _installed_by(name: str) -> Any:
    """The installed distribution whose files include module ``name``'s file, if any."""
    file = module_file(name)
    if file is None:
        return None
    origin = os.path.realpath(file)
    from importlib.metadata import PackageNotFoundError, distribution

    for dist_name in _top_level_distributions().get(name.split(".")[0], []):
        try:
            dist = distribution(dist_name)
        except PackageNotFoundError:
            continue
        for file in dist.files or ():
            if os.path.realpath(dist.locate_file(file)) == origin:
                return dist
    return None


@functools.lru_cache(maxsize=1)
def _top_level_distributions() -> dict[str, list[str]]:
    """Top-level import name → the distributions that install it (read once: it scans
    every installed distribution)."""
    from importlib.metadata import packages_distributions

    return dict(packages_distributions())
