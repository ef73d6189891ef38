"""The database that holds our own state (cadence ledger, Pixee synced hashes).

It is the Dagster instance's database, so the state follows the instance: a SQLite file next to
the instance's own on the embedded default, the same PostgreSQL database on a deployment where
runs execute in other processes or containers.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()


def make_engine(url: str) -> sa.Engine:
    """An engine whose transactions serialise writers: SQLite takes its write lock at BEGIN
    (BEGIN IMMEDIATE), so a read-then-claim cannot interleave with another process's."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _no_implicit_transactions(dbapi_connection, _record):  # noqa: ANN001
            dbapi_connection.isolation_level = None

        @sa.event.listens_for(engine, "begin")
        def _begin_immediate(connection):  # noqa: ANN001
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    else:
        engine = sa.create_engine(postgres_driver_url(url), pool_pre_ping=True)
    try:
        metadata.create_all(engine)
    except sa.exc.DatabaseError:
        # Two processes starting on a fresh database race to create the tables; the loser
        # finds them made by the time it looks again.
        metadata.create_all(engine)
    add_missing_columns(engine)
    return engine


def add_missing_columns(engine: sa.Engine) -> None:
    """The one migration our tables need: a nullable column added in a later release is added to
    a database made by an earlier one (the ledger holds years; it is never rebuilt)."""
    inspector = sa.inspect(engine)
    for table in metadata.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present or not column.nullable:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(
                        f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'
                    )
            except sa.exc.DatabaseError:
                now = {c["name"] for c in sa.inspect(engine).get_columns(table.name)}
                if column.name not in now:  # not added by another process first
                    raise


def postgres_driver_url(url: str) -> str:
    """Dagster's Postgres storage uses psycopg2; SQLAlchemy 2.1 would pick psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def lock_key(conn: sa.Connection, name: str) -> None:
    """Serialise transactions on one name across processes (PostgreSQL advisory lock; SQLite is
    already serialised by BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})


cursors = sa.Table(
    "erp_sync_cursors",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


def dialect_insert(conn: sa.Connection, table: sa.Table):  # noqa: ANN201 - an Insert
    """An INSERT that takes ON CONFLICT, on SQLite and PostgreSQL alike."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def upsert(conn: sa.Connection, table: sa.Table, rows: list[dict], key: list[str]) -> None:
    """INSERT ... ON CONFLICT DO UPDATE on SQLite and PostgreSQL alike."""
    if not rows:
        return
    statement = dialect_insert(conn, table)
    updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in key}
    conn.execute(statement.on_conflict_do_update(index_elements=key, set_=updates), rows)


def get_cursor(engine: sa.Engine, name: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(sa.select(cursors.c.value).where(cursors.c.name == name)).scalar()


def set_cursor(conn: sa.Connection, name: str, value: str) -> None:
    """Inside the caller's transaction (a read's cursor moves with the read's record)."""
    upsert(conn, cursors, [{"name": name, "value": value}], ["name"])
