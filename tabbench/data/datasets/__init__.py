"""Datasets: registry entries, loading with validation and caching, synthetic generators."""
