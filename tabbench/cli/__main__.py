"""``python -m tabbench.cli``: the ``tabbench`` command."""

from tabbench.cli import main

main()
