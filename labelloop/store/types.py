"""Column types shared by the schema.

`AwareDateTime` stores a timezone-aware UTC datetime and always hands one back: SQLite
keeps no zone and returns naive values, which were written as UTC, so they are read back
with UTC attached. Code above the store never repairs a datetime it reads.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

__all__ = ["AwareDateTime"]


class AwareDateTime(TypeDecorator):
    """``DateTime(timezone=True)`` that reads back timezone-aware UTC on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> dt.datetime | None:
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value
