"""Scoring a pool on a Dask cluster: the optional ``[scale]`` extra.

:func:`select_on_dask` is :func:`labelloop.selection.select_chunked` with the chunks
scored on a ``distributed`` cluster: the model goes to the workers once, each partition
proposes its best candidates and a histogram of its scores, and the proposals compete on
the caller's side exactly as the chunks' do in one process. :func:`dask_address` says
which scheduler a caller should use (an argument, else ``$LABELLOOP_DASK``).

``dask`` and ``distributed`` are imported only when a cluster is used: ``pip install
'labelloop[scale]'``.
"""

from __future__ import annotations

from labelloop.scale._dask import (
    DASK_ENV,
    DaskSelection,
    PartitionResult,
    dask_address,
    dask_client,
    select_on_dask,
)

__all__ = [
    "DASK_ENV",
    "DaskSelection",
    "PartitionResult",
    "dask_address",
    "dask_client",
    "select_on_dask",
]
