"""``plugins``: the loaded plugins and what each registered. The command is registered in
``tabbench/cli/__init__.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tabbench.cli.options import PluginOption, _load_plugins
from tabbench.cli.render import console


def plugins_command(
    config: Annotated[Path | None, typer.Argument(
        help="A benchmark config whose plugins to load too.")] = None,
    plugin: PluginOption = None,
) -> None:
    """List the loaded plugins: where each came from, its provenance, what it registered.

    Installed distributions that declare the entry-point group ``tabbench.plugins`` load
    automatically (TABBENCH_DISABLE_PLUGIN_AUTOLOAD=1 turns that off); --plugin and a
    config's ``plugins`` add files and modules.

    Example: ``tabbench plugins --plugin my_models.py``
    """
    # the loader's own record, not tabbench.methods.plugins: listing imports no numpy
    from tabbench.core import _plugin_loader

    _load_plugins(plugin)
    if config is not None:
        from tabbench.execution.config import load_config  # the models, rankers and splitters: ~1 s

        load_config(config)
    infos = [(p, _plugin_loader.registered(p)) for p in _plugin_loader.loaded()]
    if not infos:
        console.print("No plugins loaded. Add one with --plugin FILE_OR_MODULE, the config "
                      "key plugins = [...], or install a distribution that declares the "
                      "entry-point group tabbench.plugins.", highlight=False)
        return
    console.print("Loaded plugins", highlight=False)
    for loaded, registrations in infos:  # a block per plugin: a sha256 alone is 71 characters
        kinds: dict[str, list[str]] = {}
        for kind, name in registrations:
            kinds.setdefault(kind, []).append(name)
        registered = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in kinds.items())
        block = Table.grid(padding=(0, 2), pad_edge=True)
        block.add_column(no_wrap=True)
        block.add_column(overflow="fold")
        for label, value in (("from", loaded.origin), ("registered", registered or "nothing"),
                             ("provenance", loaded.provenance)):
            block.add_row(label, value)
        console.print(f"[bold]{escape(loaded.name)}[/]", highlight=False)
        console.print(block, highlight=False)
