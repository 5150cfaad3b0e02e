"""Row blocks, so that temporaries stay a few MiB however large the pool grows."""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["ROWS_PER_BLOCK", "row_blocks"]

# 64k rows x 10 classes x 8 bytes = 5 MiB per temporary: fits in cache-friendly chunks.
ROWS_PER_BLOCK = 65_536


def row_blocks(n_rows: int, rows_per_block: int = ROWS_PER_BLOCK) -> Iterator[slice]:
    """Yield consecutive slices covering ``range(n_rows)``, ``rows_per_block`` rows each."""
    for start in range(0, n_rows, rows_per_block):
        yield slice(start, min(start + rows_per_block, n_rows))
