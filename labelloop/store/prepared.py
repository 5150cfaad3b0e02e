"""Statements compiled once and run on the driver's cursor.

A Core statement executed through a `Connection` is cheap to run on SQLite (tens of
microseconds) but costs several times that in SQLAlchemy's execution path: the cache
look-up of its compiled form, the execution context, the result's metadata. The hot
writes of the engine (a stream decision, an audit event) run a handful of such
statements each, so that path was most of their CPU time. `Prepared` keeps the part of
it that matters and drops the rest:

1. The statement is compiled once per dialect (and, for an INSERT or UPDATE, per set of
   parameters given) and kept.
2. Each run converts the parameters with the column types' own bind processors (JSON
   to text, datetimes to SQLite's text form, ...) and the rows it returns with their
   result processors, exactly as SQLAlchemy would: the database sees the same values.
3. It runs on the DBAPI connection underneath the caller's `Connection`, in the
   caller's transaction (the connection must be in one: `Database.write_connection`,
   or ``session.connection()`` of a write transaction).
4. A driver error is raised as SQLAlchemy raises it (`sqlalchemy.exc.DBAPIError.instance`:
   an ``IntegrityError`` stays an ``IntegrityError``).
5. What it cannot do as SQLAlchemy would, it refuses when the statement is compiled: a
   column whose default is computed in Python and is not given (pass it), and
   expanding parameters (``IN`` lists, whose SQL depends on each run's values).

Statements run this way bypass SQLAlchemy's ``before_cursor_execute`` events; the
driver still sees each one (SQLite's trace callback, a counting cursor).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.dml import Insert, Update
from sqlalchemy.types import TypeEngine

__all__ = ["Prepared", "PreparedResult"]

_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class PreparedResult:
    """What a run returned: its rows (processed; empty without any) and its row count."""

    rows: list[tuple[Any, ...]]
    rowcount: int

    def scalar_one(self) -> Any:
        """The one value of the one row (`sqlalchemy.exc.NoResultFound` /
        `~sqlalchemy.exc.MultipleResultsFound` otherwise)."""
        if not self.rows:
            raise exc.NoResultFound("no row was returned where one was required")
        if len(self.rows) > 1:
            raise exc.MultipleResultsFound("more than one row was returned where one was required")
        return self.rows[0][0]

    def first(self) -> tuple[Any, ...] | None:
        """The first row, or None."""
        return self.rows[0] if self.rows else None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # bind names in order (qmark, numeric), or None
    names: tuple[tuple[str, str], ...]  # (given name, name in the SQL) for named styles
    binds: tuple[tuple[str, _Processor], ...]  # each bind's name and its processor
    defaults: Mapping[str, Any]  # binds with a value of their own (``bindparam(value=)``)
    returned: tuple[TypeEngine[Any], ...]  # each returned column's type
    # Their result processors, made on the first run: some need the type the driver
    # describes (psycopg's numeric types), as SQLAlchemy gives them.
    results: list[tuple[_Processor, ...]] = field(default_factory=list)

    @property
    def returns_rows(self) -> bool:
        return bool(self.returned)

    def processors(self, dialect: Dialect, cursor: Any) -> tuple[_Processor, ...]:
        if not self.results:
            # Only here: psycopg builds the description anew each time it is asked for.
            codes = [c[1] for c in cursor.description or ()] or [None] * len(self.returned)
            self.results.append(
                tuple(
                    type_.dialect_impl(dialect).result_processor(dialect, code)
                    for type_, code in zip(self.returned, codes, strict=True)
                )
            )
        return self.results[0]


class Prepared:
    """A Core statement, compiled once per dialect and run on the driver's cursor.

    Parameters
    ----------
    statement : ClauseElement
        A SELECT, INSERT, UPDATE or DELETE built on the tables (with ``RETURNING``
        where rows should come back).

    Examples
    --------
    >>> NEW_EVENT = Prepared(AuditEventRow.__table__.insert())  # doctest: +SKIP
    >>> NEW_EVENT.run(conn, {"chain": "global", ...})  # doctest: +SKIP
    """

    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        self._compiled: dict[tuple[str, frozenset[str] | None], _Compiled] = {}
        self._lock = threading.Lock()

    def run(self, conn: Connection, params: Mapping[str, Any] | None = None) -> PreparedResult:
        """Run the statement with ``params`` in ``conn``'s transaction.

        Raises
        ------
        sqlalchemy.exc.ArgumentError
            A parameter the statement needs is missing, or the statement cannot be run
            this way (rule 5).
        sqlalchemy.exc.DBAPIError
            The driver's error, as SQLAlchemy raises it (rule 4).
        """
        params = params or {}
        dialect = conn.dialect
        compiled = self._compile(dialect, params)
        values = self._bind(compiled, params)
        raw = conn.connection.dbapi_connection
        if raw is None:  # pragma: no cover - a closed connection is refused above us
            raise exc.ResourceClosedError("the connection is closed")
        cursor = raw.cursor()
        try:
            try:
                cursor.execute(compiled.sql, values)
                rows = cursor.fetchall() if compiled.returns_rows else []
                rowcount = cursor.rowcount
                results = compiled.processors(dialect, cursor) if rows else ()
            except dialect.loaded_dbapi.Error as error:
                raise exc.DBAPIError.instance(
                    compiled.sql,
                    values,
                    error,
                    dialect.loaded_dbapi.Error,
                    dialect=dialect,
                ) from error
        finally:
            cursor.close()
        if any(results):
            rows = [
                tuple(v if p is None else p(v) for p, v in zip(results, row, strict=True))
                for row in rows
            ]
        else:
            rows = [tuple(row) for row in rows]
        return PreparedResult(rows=rows, rowcount=rowcount)

    def _compile(self, dialect: Dialect, params: Mapping[str, Any]) -> _Compiled:
        # An INSERT's or UPDATE's SQL names the columns given; any other statement's is fixed.
        columns = frozenset(params) if isinstance(self._statement, Insert | Update) else None
        key = (dialect.name, columns)
        found = self._compiled.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._compiled.get(key)
            if found is None:
                found = self._compiled[key] = _compile(self._statement, dialect, columns)
        return found

    @staticmethod
    def _bind(compiled: _Compiled, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values: dict[str, Any] = {}
        for name, processor in compiled.binds:
            if name in params:
                value = params[name]
            elif name in compiled.defaults:
                value = compiled.defaults[name]
            else:
                raise exc.ArgumentError(f"a value is required for the parameter {name!r}")
            values[name] = value if processor is None or value is None else processor(value)
        if compiled.positional is not None:
            return tuple(values[name] for name in compiled.positional)
        return {sql_name: values[name] for name, sql_name in compiled.names}


def _compile(
    statement: ClauseElement, dialect: Dialect, columns: frozenset[str] | None
) -> _Compiled:
    compiled = statement.compile(
        dialect=dialect, column_keys=sorted(columns) if columns is not None else None
    )
    prefetched = [*compiled.insert_prefetch, *compiled.update_prefetch]
    if prefetched:
        names = ", ".join(sorted(c.key for c in prefetched))
        raise exc.ArgumentError(
            f"the statement needs the column(s) {names}, whose default is computed in "
            "Python: pass a value for each"
        )
    binds: list[tuple[str, _Processor]] = []
    defaults: dict[str, Any] = {}
    for bind, name in compiled.bind_names.items():
        if bind.expanding:
            raise exc.ArgumentError(
                f"the parameter {bind.key!r} expands to a list: run this statement through "
                "the connection instead"
            )
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        binds.append((name, processor))
        if not bind.required and bind.value is not None:
            defaults[name] = bind.value
    escaped = getattr(compiled, "escaped_bind_names", None) or {}
    positional = tuple(compiled.positiontup) if compiled.positional else None
    # RETURNING's columns (PostgreSQL adds the new key to an INSERT without one), or
    # the SELECT's.
    returned = compiled.returning or (statement.selected_columns if statement.is_select else ())
    return _Compiled(
        sql=compiled.string,
        positional=positional,
        names=tuple((name, escaped.get(name, name)) for _bind, name in compiled.bind_names.items()),
        binds=tuple(binds),
        defaults=defaults,
        returned=tuple(column.type for column in returned),
    )
