"""Engines and sessions for a database URL (the caller's: see diffmix.settings for where it comes from)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def database_url(url: str) -> str:
    """The SQLAlchemy URL for a URL as users write it (postgresql:// means psycopg 3)."""
    # psycopg 3 is the PostgreSQL driver; accept the plain scheme users write.
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain):]
    return url


def make_engine(url: str, **kw: Any) -> Engine:
    """An engine for the URL: SQLite with foreign keys, WAL and a busy timeout; PostgreSQL with a pool."""
    url = database_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kw)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kw)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay usable after commit (routes return them after crud has committed)."""
    return sessionmaker(engine, expire_on_commit=False)
