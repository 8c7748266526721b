"""`diffmix serve`, `diffmix db …`, `diffmix admin …`."""

from __future__ import annotations

import getpass
import os
import socket

import typer

from diffmix.settings import Settings

app = typer.Typer(add_completion=False)
db_app = typer.Typer(no_args_is_help=True, help="Database schema (Alembic migrations) on $DATABASE_URL.")
admin_app = typer.Typer(no_args_is_help=True, help="Administration: API keys.")


@app.command()
def serve(host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (0.0.0.0: every interface)"),
          port: int = typer.Option(8000, "--port", help="port to listen on"),
          upgrade: bool = typer.Option(True, help="Apply pending migrations first"),
          workers: int = typer.Option(1, "--workers", help="worker processes (each loads the models once)"),
          log_json: bool | None = typer.Option(None, "--log-json/--log-text",
                                               help="Log one JSON object per line (default: $DIFFMIX_LOG_JSON)")) -> None:
    """Serve the API on DATABASE_URL (default: SQLite file diffmix.db in the working directory)."""
    from db.migrate import upgrade as do_upgrade
    from diffmix import logs
    from service import server

    settings = Settings()
    json_lines = settings.log_json if log_json is None else log_json
    logs.configure(json_lines, settings.log_level)
    if upgrade:
        do_upgrade(settings.database_url)
    # log_config=None (server.config): uvicorn's own loggers go through the handler configured above
    if workers > 1:
        # each worker process imports service.main and reads its settings (and so this choice) from the environment
        os.environ["DIFFMIX_LOG_JSON"] = "true" if json_lines else "false"
        server.serve(server.config("service.main:app", settings, host, port, workers=workers))
    else:
        from service.app import create_app

        server.serve(server.config(create_app(settings), settings, host, port))


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="the Alembic revision to reach (head: the newest)"), url: str | None = typer.Option(None, help="Overrides DATABASE_URL")) -> None:
    """Apply the migrations up to REVISION (default: the newest)."""
    from db.migrate import current, upgrade

    url = url or Settings().database_url
    upgrade(url, revision)
    typer.echo(f"database at revision {current(url)}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="the Alembic revision to go back to, e.g. 0006"),
                 url: str | None = typer.Option(None, help="Overrides DATABASE_URL")) -> None:
    """Revert the migrations down to REVISION ('base' = empty)."""
    from db.migrate import current, downgrade

    url = url or Settings().database_url
    downgrade(url, revision)
    typer.echo(f"database at revision {current(url)}")


@admin_app.command("create-key")
def create_key(role: str = typer.Option(..., "--role", help="operator | robot | analyst | admin"),
               name: str = typer.Option("", "--name", help="who or what holds the key, e.g. clio-1 or alice"),
               url: str | None = typer.Option(None, help="Overrides DATABASE_URL")) -> None:
    """Create an API key; it is printed once, alone on the last line."""
    from db import crud
    from db.enums import Role
    from db.migrate import current
    from db.session import make_engine, make_sessionmaker

    if role not in set(Role):
        typer.echo(f"error: unknown role {role!r}; choose one of {', '.join(Role)}", err=True)
        raise typer.Exit(2)
    url = url or Settings().database_url
    if current(url) is None:
        typer.echo("error: the database has no schema yet; run `diffmix db upgrade` first", err=True)
        raise typer.Exit(2)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        row, key = crud.create_api_key(s, role, name, via=f"cli:{getpass.getuser()}@{socket.gethostname()}")
    engine.dispose()
    typer.echo(f"created {role} key #{row.id} ({row.name}); store it now, it is not shown again:")
    typer.echo(key)


app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
