"""Schema and migrations on SQLite and PostgreSQL; Database URL resolution and pragmas."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from labelloop.engine.core.settings import DEFAULT_SETTINGS
from labelloop.exceptions import ValidationError
from labelloop.store.db import DEFAULT_URL, Database, resolve_url
from labelloop.store.migrate import alembic_config, current_revision, head_revision, upgrade
from labelloop.store.tables import Base, ItemRow, LabelChangeRow, ProjectRow, utcnow

REVISIONS = [r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()]


def _schema_diff(db: Database) -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request, tmp_path):
    """A database with no schema at all."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'empty.db'}")
        yield db
        db.dispose()
        return
    server = request.getfixturevalue("pg_server")
    name = server.create_database()
    db = Database(server.url(name))
    yield db
    db.dispose()
    server.drop_database(name)


def test_upgrade_builds_exactly_the_tables_schema(empty_database):
    assert current_revision(empty_database) is None
    upgrade(empty_database)
    assert current_revision(empty_database) == head_revision()
    assert _schema_diff(empty_database) == []
    tables = set(inspect(empty_database.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_upgrade_twice_changes_nothing(database):
    before = _schema_diff(database)
    upgrade(database)
    upgrade(database)
    assert current_revision(database) == head_revision()
    assert _schema_diff(database) == before == []


@pytest.mark.parametrize("revision", REVISIONS)
def test_every_revision_upgrades_to_head(empty_database, revision):
    upgrade(empty_database, revision)
    assert current_revision(empty_database) == revision
    upgrade(empty_database)
    assert current_revision(empty_database) == head_revision()
    assert _schema_diff(empty_database) == []


def test_upgrading_to_0002_starts_the_label_feed_with_the_labels_that_stand(empty_database):
    upgrade(empty_database, "0001")
    with empty_database.write_connection() as conn:
        conn.execute(
            ProjectRow.__table__.insert(),
            {"id": 1, "name": "p", "task_type": "classification", "labels": ["a", "b"],
             "multi_label": False, "strategy": "auto", "settings": {}, "guideline_version": 0,
             "created_at": utcnow()},
        )  # fmt: skip
        conn.execute(
            ItemRow.__table__.insert(),
            [
                {"id": i, "project_id": 1, "external_id": f"x{i}", "payload": {}, "meta": {},
                 "content_hash": f"{i:064d}", "is_eval": False, "status": status,
                 "final_label": label, "created_at": utcnow()}
                for i, (status, label) in enumerate(
                    [("annotated", "a"), ("open", None), ("in_review", "b"), ("accepted", "b")],
                    start=1,
                )
            ],
        )  # fmt: skip
    upgrade(empty_database)
    with empty_database.read() as s:
        changes = s.execute(
            select(LabelChangeRow.item_id, LabelChangeRow.label).order_by(LabelChangeRow.id)
        ).all()
    # A provisional label under review does not stand yet.
    assert [tuple(c) for c in changes] == [(1, "a"), (4, "b")]


def test_unknown_revision_is_refused(sqlite_db):
    with pytest.raises(ValidationError) as info:
        upgrade(sqlite_db, "nope")
    assert info.value.field == "revision"


def test_named_constraints_are_enforced(database):
    with pytest.raises(IntegrityError), database.transaction() as s:
        s.add(ProjectRow(name="p", task_type="classification", labels=["a"]))
        s.add(ProjectRow(name="p", task_type="classification", labels=["a"]))
    with database.read() as s:
        assert s.execute(text("SELECT count(*) FROM projects")).scalar() == 0


def test_labels_compare_in_sql(database):
    # JSONB on PostgreSQL: equality and GROUP BY on JSON columns work on both databases.
    with database.transaction() as s:
        s.add_all(
            ProjectRow(name=f"p{i}", task_type="classification", labels=labels)
            for i, labels in enumerate([["a", "b"], ["a", "b"], ["c"]])
        )
    with database.read() as s:
        groups = s.execute(
            text("SELECT labels, count(*) FROM projects GROUP BY labels ORDER BY count(*)")
        ).all()
        assert [count for _labels, count in groups] == [1, 2]
        n_ab = s.query(ProjectRow).filter(ProjectRow.labels == ["a", "b"]).count()
        assert n_ab == 2


def test_python_none_is_sql_null_in_json_columns(database):
    # Bulk inserts write SQL NULL; ORM writes must match so `IS NULL` finds both.
    from labelloop.store.tables import ItemRow

    with database.transaction() as s:
        project = ProjectRow(name="nulls", task_type="classification", labels=["a", "b"])
        s.add(project)
        s.flush()
        s.add(
            ItemRow(
                project_id=project.id,
                external_id="1",
                payload={"text": "x"},
                content_hash="h",
                final_label=None,
            )
        )
    with database.read() as s:
        raw = s.execute(text("SELECT count(*) FROM items WHERE final_label IS NULL")).scalar()
        assert raw == 1


# --------------------------------------------------------------------------- SQLite details


def test_sqlite_pragmas(sqlite_db):
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_foreign_keys_are_enforced(database):
    from labelloop.store.tables import ItemRow

    with pytest.raises(IntegrityError), database.transaction() as s:
        s.add(ItemRow(project_id=999, external_id="x", payload={}, content_hash="0" * 64))


def test_write_transaction_rolls_back_on_error(database):
    with pytest.raises(RuntimeError), database.transaction() as s:
        s.add(ProjectRow(name="gone", task_type="classification", labels=["a"]))
        s.flush()
        raise RuntimeError("boom")
    with database.read() as s:
        assert s.query(ProjectRow).count() == 0


def test_sqlite_write_transactions_begin_immediate(sqlite_db):
    # BEGIN IMMEDIATE takes the write lock at once: a second writer waits (here: times out
    # quickly) instead of both reading and then deadlocking on the upgrade to a write lock.
    import sqlite3

    path = sqlite_db.engine.url.database
    with sqlite_db.transaction() as s:
        s.execute(text("SELECT count(*) FROM projects"))  # a read opens the transaction
        other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.execute("BEGIN")  # readers are never blocked in WAL mode
            other.execute("SELECT count(*) FROM projects").fetchone()
            other.execute("ROLLBACK")
        finally:
            other.close()


# --------------------------------------------------------------------------- URL resolution


def test_resolve_url(monkeypatch, tmp_path):
    monkeypatch.delenv("LABELLOOP_DB", raising=False)
    assert resolve_url() == DEFAULT_URL == "sqlite:///labelloop.db"
    assert resolve_url("data/team.db") == "sqlite:///data/team.db"
    assert resolve_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("LABELLOOP_DB", str(tmp_path / "env.db"))
    assert resolve_url() == f"sqlite:///{tmp_path / 'env.db'}"
    assert resolve_url("sqlite:///given.db") == "sqlite:///given.db"  # --db wins over env


def test_database_from_bare_path_creates_parent(tmp_path):
    db = Database(str(tmp_path / "sub" / "team.db"))
    try:
        assert db.dialect == "sqlite"
        db.create_schema()
        assert (tmp_path / "sub" / "team.db").exists()
        assert db.artifact_dir == tmp_path / "sub" / "team-artifacts"
    finally:
        db.dispose()


def test_in_memory_database_keeps_its_schema():
    db = Database("sqlite://")
    try:
        db.create_schema()
        with db.transaction() as s:
            s.add(ProjectRow(name="p", task_type="classification", labels=["a"]))
        with db.read() as s:
            assert s.query(ProjectRow).count() == 1
    finally:
        db.dispose()


@pytest.mark.parametrize(
    "url", ["mysql://u@h/db", "sqlite+nope:///x.db", "postgresql+psycopg2://u@h/db", "://"]
)
def test_bad_url_names_db(url):
    with pytest.raises(ValidationError) as info:
        Database(url)
    assert info.value.field == "db"


def test_plain_postgresql_url_uses_psycopg():
    db = Database("postgresql://team:secret@db.example/labels")  # no connection is made
    assert db.url == "postgresql+psycopg://team:secret@db.example/labels"
    assert db.dialect == "postgresql"
    assert "secret" not in repr(db)


def test_upgrading_to_0014_keeps_max_for_existing_box_projects(empty_database):
    upgrade(empty_database, "0013")
    base = {"multi_label": False, "strategy": "auto", "guideline_version": 0,
            "created_at": utcnow(), "labels": ["cat", "dog"]}  # fmt: skip
    with empty_database.write_connection() as conn:
        conn.execute(
            ProjectRow.__table__.insert(),
            [
                {**base, "id": 1, "name": "old", "task_type": "boxes", "settings": {}},
                {**base, "id": 2, "name": "chosen", "task_type": "boxes",
                 "settings": {"box_score": "sum", "batch_size": 5}},
                {**base, "id": 3, "name": "texts", "task_type": "classification",
                 "settings": {}},
            ],
        )  # fmt: skip
    upgrade(empty_database)
    with empty_database.read() as s:
        stored = dict(s.execute(select(ProjectRow.name, ProjectRow.settings)).all())
    assert stored == {
        "old": {"box_score": "max"},
        "chosen": {"box_score": "sum", "batch_size": 5},
        "texts": {},
    }
    # New box projects take the new default.
    assert DEFAULT_SETTINGS["box_score"] == "mean"
