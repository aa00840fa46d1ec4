"""The model zoo: specs, factories and search spaces (see :mod:`tabbench.models.base`)."""
