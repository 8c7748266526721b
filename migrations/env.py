"""Alembic environment: the URL comes from the caller's Config (sqlalchemy.url) or DATABASE_URL."""

from __future__ import annotations

from alembic import context

from db import models  # noqa: F401  (registers the tables on Base.metadata)
from db.base import Base
from db.session import database_url, make_engine
from diffmix.settings import Settings

config = context.config
target_metadata = Base.metadata
# the caller's URL (db.migrate sets it); run as plain `alembic`, the project's settings (DATABASE_URL)
URL = config.get_main_option("sqlalchemy.url") or Settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=database_url(URL), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(URL)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(conn) -> None:
    # batch mode lets later migrations ALTER tables on SQLite (copy-and-move)
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        # A batch migration rebuilds a table (copy, drop, rename); with foreign keys enforced the drop would fail
        # for every row that other tables reference. SQLite's manual (ALTER TABLE, "other kinds of table schema
        # changes") says: switch them off for the rebuild, then check with foreign_key_check.
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.commit()
    context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration left rows whose foreign keys point nowhere: {broken[:5]}")
    if sqlite:
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
