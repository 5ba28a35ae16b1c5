"""The ``conductor-e`` command. ``asyncio.run`` here owns the one event loop."""

from __future__ import annotations

import argparse
import asyncio
import errno
import importlib.metadata
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from .api_client import ApiClient
from .log_format import configure_logging
from .settings import Settings, SettingsError
from .startup import StartupError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="conductor-e", description=__doc__)
    parser.add_argument("--version", action="version", version=f"conductor-e {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP API (and the Discord bot when configured)")
    serve.add_argument("--host", help="address to listen on (default HOST or 0.0.0.0)")
    serve.add_argument("--port", type=_port_number, help="port to listen on (default PORT or 8080)")
    sub.add_parser("rebuild-projections", help="recompute every read-model document from mt_events")
    _add_console_commands(sub)
    args = parser.parse_args(argv)
    if args.command in ("emit", "status", "preview"):  # clients: the service's settings do not matter
        return _console(args)

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"conductor-e: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "host", None):
        settings = _replace(settings, host=args.host)
    if getattr(args, "port", None) is not None:
        settings = _replace(settings, port=args.port)
    configure_logging(settings)

    try:
        if args.command == "serve":
            return _run(_serve(settings))
        return _run(_rebuild(settings))
    except StartupError as exc:
        print(f"conductor-e: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE or args.command != "serve":
            raise
        print(f"conductor-e: port {settings.port} on {settings.host} is in use by another process "
              "(set PORT or --port)", file=sys.stderr)
        return 2


def _add_console_commands(sub: Any) -> None:
    fields = "fields as key=value (a value that parses as JSON is JSON: 42, true, [1,2]; else text)"
    emit = sub.add_parser("emit", help="post an event to a running service and print its answer",
                          description="conductor-e emit ISSUE_APPROVED repo=acme/app issueNumber=7 title='Add auth'")
    status = sub.add_parser("status", help="a running service's agents, queue and open gates")
    preview = sub.add_parser("preview", help="print how an event would look in Discord (offline)",
                             description="conductor-e preview HUMAN_GATE_TRIGGERED repo=acme/app issueNumber=7 "
                                         "reason='touches auth' prNumber=88")
    for command in (emit, preview):
        command.add_argument("type", metavar="TYPE", help="the event type, e.g. ISSUE_APPROVED")
        command.add_argument("fields", metavar="key=value", nargs="*", help=fields)
    for command in (emit, status):
        command.add_argument("--url", help="the service (default CONDUCTOR_E_URL, else http://127.0.0.1:$PORT)")
        command.add_argument("--token", help="a bearer token (default CONDUCTOR_E_TOKEN), for the tokens mode")


def _console(args: argparse.Namespace) -> int:
    from . import console

    if args.command == "status":
        return console.status(_client(args, console.default_url()))
    try:
        body = console.event_body(args.type, args.fields)
    except console.UsageError as exc:
        print(f"conductor-e {args.command}: {exc}", file=sys.stderr)
        return console.USAGE
    if args.command == "preview":
        return console.preview(body)
    return console.emit(_client(args, console.default_url()), body)


def _client(args: argparse.Namespace, url: str) -> ApiClient:
    token = args.token or os.environ.get("CONDUCTOR_E_TOKEN", "").strip() or None
    return ApiClient(args.url or url, token)


def _version() -> str:
    try:
        return importlib.metadata.version("conductor-e")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def _port_number(raw: str) -> int:
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise argparse.ArgumentTypeError(f"a port number from 0 to 65535, not {raw!r}")
    return int(raw)


def _run(main: Coroutine[Any, Any, int]) -> int:
    """Own the one event loop: uvloop's where installed, else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def _replace(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update=changes)


async def _serve(settings: Settings) -> int:
    from .runtime import serve_until_stopped

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve_until_stopped(settings, stop)
    return 0


async def _rebuild(settings: Settings) -> int:
    from .rebuild import rebuild_projections

    count = await rebuild_projections(settings)
    print(f"rebuilt projections from {count} events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
