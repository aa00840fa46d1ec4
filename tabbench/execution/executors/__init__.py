"""Executors run jobs and hand back their result rows; the runner writes the files.

``local`` (:mod:`tabbench.execution.executors.local`) runs the jobs in a pool of reused worker
processes on this machine; ``dask`` (:mod:`tabbench.execution.executors.dask_cluster`) sends jobs to a Dask cluster.
Dask is imported only when the ``dask`` executor is used.
"""

from tabbench.execution.executors.local import LocalExecutor, cores

__all__ = ["LocalExecutor", "cores"]
