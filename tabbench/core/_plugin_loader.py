"""Which plugins are loaded, where each came from and what it registered (the core half).

A plugin is code whose import registers models, splitters or metrics through the public
API (``tabbench.register_model``, ``tabbench.sklearn_model``, ``tabbench.register_split``,
``tabbench.register_metric``). This module keeps the record those functions write to, runs a
plugin's code under that record (:func:`run_plugin`: one error line naming the plugin's file
and line when its import fails, and nothing of it left registered), and loads the installed
distributions that declare the entry-point group ``tabbench.plugins`` the first time a model,
splitter or metric is looked up (:func:`autoload`; not at ``import tabbench``). Loading
files and modules, the registration functions and the workers' side are in
:mod:`tabbench.methods.plugins`; this half lives in the core because the registries of the lower
layers call :func:`autoload` and report who owns a name.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import importlib.util
import json
import os
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tabbench.exceptions import PluginError, TabbenchError, TabbenchWarning

if TYPE_CHECKING:
    from tabbench.core._registry import Registry

__all__ = ["DISABLE_AUTOLOAD", "ENTRY_POINT_GROUP", "Plugin", "autoload", "loaded", "owner",
           "run_plugin"]

#: The entry-point group an installed distribution declares to be loaded automatically.
ENTRY_POINT_GROUP = "tabbench.plugins"
#: Set to 1 to load no installed plugin automatically (pytest's PYTEST_DISABLE_PLUGIN_AUTOLOAD).
DISABLE_AUTOLOAD = "TABBENCH_DISABLE_PLUGIN_AUTOLOAD"

Source = Literal["file", "module", "entry-point", "script"]
_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])  # the tabbench package


@dataclass(frozen=True)
class Plugin:
    """A loaded plugin: where its code came from and what identifies that code.

    ``source`` is ``file`` (``--plugin my_models.py``), ``module`` (``--plugin
    mypkg.models``, or a module that called the registration functions itself),
    ``entry-point`` (an installed distribution) or ``script`` (the ``__main__`` file of a
    Python program). ``ref`` is what a worker loads: the file's resolved path, or the
    module's name (``module:function`` for an entry point naming a function). The
    provenance (:attr:`provenance`) is the distribution and its version when the code is
    installed, the sha256 of the file otherwise (and both for an editable install, whose
    version does not change when its files do). ``text`` holds a file's bytes, shipped to
    the workers so that they run exactly the code the driver hashed.
    """

    name: str
    source: Source
    ref: str
    module: str
    distribution: str | None = None
    version: str | None = None
    sha256: str | None = None
    text: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        """What makes two loads the same plugin (its code may differ: see provenance)."""
        return (self.source, self.ref)

    @property
    def provenance(self) -> str:
        """``dist==version``, ``sha256:<hex>`` or both: what results of this plugin depend on."""
        parts = [f"{self.distribution}=={self.version}"] if self.distribution else []
        if self.sha256:
            parts.append(f"sha256:{self.sha256}")
        return " ".join(parts) or "unknown"

    @property
    def origin(self) -> str:
        """Where the code came from, for people: ``file /x/my_models.py``, ``module m``,
        ``distribution d 1.0 (entry point m)``."""
        if self.source == "entry-point":
            return f"distribution {self.distribution} {self.version} (entry point {self.ref})"
        if self.source == "module" and self.distribution:
            return f"module {self.ref} (distribution {self.distribution} {self.version})"
        return f"{self.source} {self.ref}"

    @property
    def path(self) -> str | None:
        """The file whose lines error messages point at, when there is one."""
        if self.source in ("file", "script"):
            return self.ref
        return module_file(self.module.partition(":")[0])


_REGISTRIES: dict[str, Registry[Any]] = {}
_LOADED: dict[tuple[str, str], Plugin] = {}
_OWNERS: dict[tuple[str, str], Plugin] = {}
#: Names registered where a worker's import of the plugin would not register them again.
_UNREACHABLE: dict[tuple[str, str], str] = {}
_CURRENT: contextvars.ContextVar[tuple[Plugin, set[tuple[str, str]]] | None] = (
    contextvars.ContextVar("tabbench_plugin", default=None))
_AUTOLOAD: dict[str, Any] = {"started": False, "error": None}


def track(kind: str, registry: Registry[Any]) -> None:
    """Declare the registry of ``kind`` (``model``, ``split``, ``metric``) to the record."""
    _REGISTRIES[kind] = registry


def current() -> Plugin | None:
    """The plugin whose code is running now, if any."""
    state = _CURRENT.get()
    return state[0] if state else None


def loaded() -> list[Plugin]:
    """The loaded plugins, in load order (the installed ones loaded first, if not yet)."""
    autoload()
    return list(_LOADED.values())


def find(key: tuple[str, str]) -> Plugin | None:
    """The loaded plugin with this :attr:`Plugin.key`, if any."""
    return _LOADED.get(key)


def owner(kind: str, name: str) -> Plugin | None:
    """The plugin that registered ``name`` as a ``kind``; ``None`` for a built-in."""
    return _OWNERS.get((kind, name.lower()))


def registered(plugin: Plugin) -> list[tuple[str, str]]:
    """``(kind, name)`` of everything ``plugin`` registered, in order."""
    return [item for item, by in _OWNERS.items() if by.key == plugin.key]


def unreachable(kind: str, name: str) -> str | None:
    """Why a worker importing the owner of ``name`` would not register it, if it would not."""
    return _UNREACHABLE.get((kind, name.lower()))


def claim(kind: str, name: str, plugin: Plugin, add: Callable[[], Any],
          unreachable_because: str | None = None) -> Any:
    """Register ``name`` for ``plugin`` with ``add()``; raise :class:`PluginError` if taken.

    A name already registered by a built-in, by another plugin, or earlier in the same
    load of this plugin is refused; the same plugin registering a name again in a later
    load (a notebook cell run twice, a file plugin changed on a long-lived worker) replaces
    its own earlier entry.
    """
    key = (kind, name.lower())
    registry = _REGISTRIES[kind]
    state = _CURRENT.get()
    session = state[1] if state and state[0].key == plugin.key else None
    if registry.holds(name):
        holder = _OWNERS.get(key)
        if holder is None:
            raise PluginError(f"{kind} {name!r} is already registered (a built-in {kind}); "
                              f"choose another name")
        if holder.key != plugin.key:
            raise PluginError(f"{kind} {name!r} is already registered by plugin "
                              f"{holder.name} ({holder.origin}); choose another name")
        if session is not None and key in session:
            raise PluginError(f"{kind} {name!r} is registered twice by plugin {plugin.name}")
        registry.unregister(name)
    item = add()
    _OWNERS[key] = plugin
    if session is None:  # registered by a module's own code: the latest record of it
        _LOADED[plugin.key] = plugin
    else:
        session.add(key)
    if unreachable_because:
        _UNREACHABLE[key] = unreachable_because
    else:
        _UNREACHABLE.pop(key, None)
    return item


def forget(plugin: Plugin) -> None:
    """Unregister everything ``plugin`` registered and drop it from the record."""
    for kind, name in registered(plugin):
        _REGISTRIES[kind].unregister(name)
        _OWNERS.pop((kind, name), None)
        _UNREACHABLE.pop((kind, name), None)
    _LOADED.pop(plugin.key, None)


@contextlib.contextmanager
def _running(plugin: Plugin) -> Iterator[set[tuple[str, str]]]:
    session: set[tuple[str, str]] = set()
    token = _CURRENT.set((plugin, session))
    try:
        yield session
    finally:
        _CURRENT.reset(token)


def run_plugin(plugin: Plugin, action: Callable[[], Any]) -> Plugin:
    """Run ``action`` (the plugin's import) with its registrations recorded for ``plugin``.

    Any exception becomes one :class:`PluginError` line with its type, message, file and
    line, and whatever the plugin had registered before it failed is unregistered. A plugin
    that registers nothing is loaded with a warning.
    """
    previous = _LOADED.get(plugin.key)
    if previous is not None:
        forget(previous)
    _LOADED[plugin.key] = plugin
    with _running(plugin) as session:
        try:
            action()
        except (Exception, SystemExit) as exc:
            forget(plugin)
            raise PluginError(describe_failure(plugin, exc)) from exc
    if not session:
        warnings.warn(f"plugin {plugin.name} ({plugin.origin}) registered no model, "
                      f"splitter or metric", TabbenchWarning, stacklevel=3)
    return plugin


def describe_failure(plugin: Plugin, exc: BaseException) -> str:
    """One line: the plugin, the exception's type and message, and where it was raised."""
    where = _location(plugin, exc)
    if isinstance(exc, TabbenchError):
        what = str(exc)
    elif isinstance(exc, SyntaxError):  # its str() repeats the file and line
        what = f"{type(exc).__name__}: {exc.msg}"
    else:
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    what = " ".join(what.split())
    return f"plugin {plugin.name} failed to load: {what}" + (f" ({where})" if where else "")


def _location(plugin: Plugin, exc: BaseException) -> str:
    """``file, line N`` of the plugin's line that raised (and of the deepest frame, if
    that is elsewhere)."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}, line {exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith("<frozen") and not f.filename.startswith(_PACKAGE_DIR)]
    if not frames:
        return ""
    path = plugin.path
    own = [f for f in frames if path is not None and os.path.samefile(f.filename, path)] \
        if path and os.path.exists(path) else [f for f in frames if f.filename == path]
    chosen = own[-1] if own else frames[-1]
    where = f"{chosen.filename}, line {chosen.lineno}"
    deepest = frames[-1]
    if deepest is not chosen:
        where += f"; raised in {deepest.filename}, line {deepest.lineno}"
    return where


def file_sha256(data: bytes) -> str:
    """The hex sha256 of a file's bytes."""
    return hashlib.sha256(data).hexdigest()


def autoload() -> None:
    """Load every installed distribution's ``tabbench.plugins`` entry points, once.

    Called by the model, splitter and metric registries before a lookup, so an installed
    plugin's names exist wherever a name is looked up (the driver and every worker), yet
    ``import tabbench`` imports none. ``TABBENCH_DISABLE_PLUGIN_AUTOLOAD=1`` turns it off.
    A plugin that fails raises its :class:`PluginError` now and at every later lookup.
    """
    if _AUTOLOAD["started"]:
        if _AUTOLOAD["error"] is not None:
            raise PluginError(_AUTOLOAD["error"])
        return
    _AUTOLOAD["started"] = True
    if os.environ.get(DISABLE_AUTOLOAD, "").strip() not in ("", "0"):
        return
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            load_entry_point(entry)
        except PluginError as exc:
            _AUTOLOAD["error"] = (f"{exc} (installed plugins load automatically; set "
                                  f"{DISABLE_AUTOLOAD}=1 to skip them)")
            raise PluginError(_AUTOLOAD["error"]) from exc


def load_entry_point(entry: Any) -> Plugin:
    """Import one entry point (a module, or ``module:function``, called with no argument)."""
    dist = entry.dist
    module = entry.module
    plugin = Plugin(name=entry.name, source="entry-point", ref=entry.value, module=module,
                    distribution=dist.name if dist else None,
                    version=dist.version if dist else None,
                    sha256=_editable_sha(dist, module))
    known = _LOADED.get(plugin.key)
    if known is not None and known.provenance == plugin.provenance:
        return known

    def action() -> None:
        target = entry.load()
        if entry.attr and callable(target):
            target()

    return run_plugin(plugin, action)


def _editable_sha(dist: Any, module: str) -> str | None:
    """The sha256 of ``module``'s file when ``dist`` is an editable install (its version
    does not change when its files do), else ``None``."""
    if dist is None:
        return None
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
    except (ValueError, OSError):
        return None
    if not direct.get("dir_info", {}).get("editable"):
        return None
    return module_sha256(module)


def module_file(module: str) -> str | None:
    """The file a module is (or would be) imported from, if it has one."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        return None
    return spec.origin


def module_sha256(module: str) -> str | None:
    """The sha256 of the file a module is imported from, if it has one."""
    file = module_file(module)
    return file_sha256(Path(file).read_bytes()) if file else None
