"""The data layer: dataset specs, loading and the registry, split strategies and metrics (what a task is: its rows, how they are split, how a model is scored)."""
