"""Executors run jobs and hand back their result rows; the runner writes the files.

``local`` (:mod:`tabbench.executors.local`) runs the jobs in a pool of reused worker
processes on this machine; ``dask`` (:mod:`tabbench.executors.dask_cluster`) sends jobs to a Dask cluster.
Dask is imported only when the ``dask`` executor is used.
"""

from tabbench.executors.local import LocalExecutor, cores

__all__ = ["LocalExecutor", "cores"]
