"""The core: atomic files, the result schema and its files, registries, paths and devices.

It imports nothing of tabbench but :mod:`tabbench.exceptions`.
"""
