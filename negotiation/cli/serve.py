"""The ``serve`` command: the HTTP service (``docs/http.md``), a thin entry over ``negotiation.server``."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["COMMANDS", "serve"]


@click.command(
    epilog="""\b
Examples:
  negotiation serve
  negotiation serve --port 8080 --workers 4 --token-file tokens.txt
  negotiation --db postgresql://localhost/negotiations serve --host 0.0.0.0 --token-file tokens.txt""",
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind (not loopback: needs --token-file)."
)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port (0: any free port).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes.")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Lines 'TOKEN SCOPE [NAME]', scope read or write. Without it: read-only, loopback only.",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1),
    default=16 * 1024 * 1024,
    show_default=True,
    help="Largest request body (413 above it).",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Let pages of ORIGIN call the service (repeatable).",
)
@click.option("--heartbeat", type=click.FloatRange(min=0.05), default=15.0, hidden=True)
@click.option("--poll-interval", type=click.FloatRange(min=0.005), default=0.05, hidden=True)
@click.option("--shutdown-timeout", type=click.FloatRange(min=0.0), default=5.0, hidden=True)
@click.pass_context
def serve(
    ctx: click.Context,
    *,
    host: str,
    port: int,
    workers: int,
    token_file: Path | None,
    max_body_bytes: int,
    cors_origins: tuple[str, ...],
    heartbeat: float,
    poll_interval: float,
    shutdown_timeout: float,
) -> None:
    """Serve the store over HTTP: append, ask and follow (see docs/http.md).

    SIGTERM finishes the requests in flight (bounded), then exits 0.
    """
    try:
        from negotiation.server import ServerSettings, StartupError, run
    except ImportError as e:  # the optional extra is missing
        click.echo(
            f"error: the HTTP service needs the server extra: pip install 'negotiation-log[server]' ({e.name})",
            err=True,
        )
        ctx.exit(2)
    root = ctx.find_root().params
    db = root.get("db")
    settings = ServerSettings(
        db=db,
        host=host,
        port=port,
        workers=workers,
        token_file=None if token_file is None else str(token_file),
        max_body_bytes=max_body_bytes,
        max_line_bytes=root.get("max_line_bytes") or 1024 * 1024,
        cors_origins=cors_origins,
        heartbeat=heartbeat,
        poll_interval=poll_interval,
        shutdown_timeout=shutdown_timeout,
    )
    try:
        run(settings)
    except StartupError as e:
        click.echo(f"error: {e}", err=True)
        ctx.exit(e.exit_code)


COMMANDS = (serve,)
