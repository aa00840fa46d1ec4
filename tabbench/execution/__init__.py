"""The execution layer: benchmark configs, jobs, the runner and its local and Dask executors."""
