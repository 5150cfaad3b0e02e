"""Prepared statements: the same values in and out as SQLAlchemy's own path, its errors,
and a clear refusal of what they cannot run (`labelloop.store.prepared`)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    exc,
    select,
)

from labelloop.store.prepared import Prepared
from labelloop.store.types import AwareDateTime

_META = MetaData()
_THINGS = Table(
    "prepared_things",
    _META,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(50), nullable=False, unique=True),
    Column("data", JSON(none_as_null=True)),
    Column("flag", Boolean, nullable=False),
    Column("at", AwareDateTime, nullable=False),
    Column("note", String(50), default=lambda: "python-side"),
    Column("score", Float),
)
_AT = dt.datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=dt.UTC)


@pytest.fixture
def conn(database):
    _META.create_all(database.engine)
    with database.write_connection() as connection:
        yield connection


def _row(name: str, **extra) -> dict:
    return {"name": name, "data": {"a": [1, 2.5, None], "b": "x"}, "flag": True, "at": _AT,
            "note": "given", **extra}  # fmt: skip


def test_values_go_in_and_come_out_as_through_sqlalchemy(conn):
    new = Prepared(_THINGS.insert().returning(_THINGS.c.id, _THINGS.c.data, _THINGS.c.at))
    key, data, at = new.run(conn, _row("one")).rows[0]
    assert data == {"a": [1, 2.5, None], "b": "x"} and at == _AT
    stored = conn.execute(select(_THINGS).where(_THINGS.c.id == key)).one()
    assert (stored.data, stored.flag, stored.at) == (data, True, _AT)
    conn.execute(_THINGS.insert(), _row("two", flag=False, data=None))
    read = Prepared(select(_THINGS.c.flag, _THINGS.c.data).where(_THINGS.c.name == bindparam("n")))
    assert read.run(conn, {"n": "two"}).rows == [(False, None)]
    assert read.run(conn, {"n": "none"}).first() is None


def test_a_float_column_comes_back_as_a_float(conn):
    # psycopg's numeric result processors need the type the driver describes.
    conn.execute(_THINGS.insert(), _row("scored", score=0.25))
    read = Prepared(select(_THINGS.c.score).where(_THINGS.c.name == bindparam("n")))
    for _run in range(2):
        assert read.run(conn, {"n": "scored"}).rows == [(0.25,)]


def test_an_update_counts_its_rows_and_compiles_per_set_of_columns(conn):
    conn.execute(_THINGS.insert(), [_row("a"), _row("b")])
    update = Prepared(_THINGS.update().where(_THINGS.c.name == bindparam("who")))
    assert update.run(conn, {"who": "a", "flag": False}).rowcount == 1
    assert update.run(conn, {"who": "b", "note": "changed"}).rowcount == 1
    rows = conn.execute(select(_THINGS.c.name, _THINGS.c.flag, _THINGS.c.note)).all()
    assert sorted(tuple(r) for r in rows) == [("a", False, "given"), ("b", True, "changed")]


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(conn):
    new = Prepared(_THINGS.insert())
    new.run(conn, _row("same"))
    with pytest.raises(exc.IntegrityError) as raised:
        new.run(conn, _row("same"))
    assert "prepared_things" in str(raised.value) or "UNIQUE" in str(raised.value).upper()


def test_a_missing_parameter_is_refused_by_name(conn):
    read = Prepared(select(_THINGS.c.id).where(_THINGS.c.name == bindparam("n")))
    with pytest.raises(exc.ArgumentError, match="'n'"):
        read.run(conn, {})


def test_a_column_with_a_python_side_default_must_be_given(conn):
    row = _row("x")
    del row["note"]
    with pytest.raises(exc.ArgumentError, match="note"):
        Prepared(_THINGS.insert()).run(conn, row)
    assert conn.execute(select(_THINGS.c.id)).first() is None  # nothing was written


def test_a_list_parameter_is_refused(conn):
    many = Prepared(
        select(_THINGS.c.id).where(_THINGS.c.name.in_(bindparam("names", expanding=True)))
    )
    with pytest.raises(exc.ArgumentError, match="expands to a list"):
        many.run(conn, {"names": ["a"]})


def test_statements_run_in_the_callers_transaction(database):
    db = database
    _META.create_all(db.engine)
    new = Prepared(_THINGS.insert())
    with pytest.raises(RuntimeError), db.write_connection() as connection:
        new.run(connection, _row("rolled back"))
        raise RuntimeError("abort")
    with db.read_connection() as connection:
        assert connection.execute(select(_THINGS.c.id)).first() is None
