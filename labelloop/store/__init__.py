"""Persistence: schema, migrations, database connection, and the hash-chained audit log."""

from labelloop.store.audit import append_event
from labelloop.store.db import Database, resolve_url

__all__ = ["Database", "append_event", "resolve_url"]
