"""Row blocks, so that temporaries stay a few MiB however large the pool grows."""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["ROWS_PER_BLOCK", "row_blocks"]

# 16k rows x 10 classes x 8 bytes = 1.3 MiB per temporary: stays in cache between passes.
ROWS_PER_BLOCK = 16_384


def row_blocks(n_rows: int, rows_per_block: int = ROWS_PER_BLOCK) -> Iterator[slice]:
    """Yield consecutive slices covering ``range(n_rows)``, ``rows_per_block`` rows each."""
    for start in range(0, n_rows, rows_per_block):
        yield slice(start, min(start + rows_per_block, n_rows))
