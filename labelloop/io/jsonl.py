"""JSON Lines: one JSON object per line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from labelloop.exceptions import ImportDataError

__all__ = ["read_jsonl", "write_jsonl"]


def read_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(line number, parsed value)`` for each non-blank line of a JSONL file.

    Raises
    ------
    ImportDataError
        Naming the file and line of text that is not UTF-8 or not JSON.
    """
    name = str(path)
    loads = json.loads
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                yield number, loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise ImportDataError(
                    f"not UTF-8 text ({exc.reason})", path=name, line=number
                ) from None
            except json.JSONDecodeError as exc:
                raise ImportDataError(
                    f"malformed JSON: {exc.msg} at column {exc.colno}", path=name, line=number
                ) from None


def write_jsonl(records: Iterable[dict[str, Any]], handle: IO[str]) -> int:
    """Write each record as one JSON line; return how many were written."""
    count = 0
    dumps = json.dumps
    for record in records:
        handle.write(dumps(record, ensure_ascii=False))
        handle.write("\n")
        count += 1
    return count
