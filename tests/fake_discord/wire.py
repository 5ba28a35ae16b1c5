"""HTTP response helpers shared by the REST modules.

Content-Type must be exactly ``application/json``: discord.py compares the
header verbatim, so aiohttp's ``json_response`` (which appends
``; charset=utf-8``) would make every body look like text and break login.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .server import FakeDiscord

API_PREFIX = "/api/v10"
FAKE_KEY: web.AppKey[FakeDiscord] = web.AppKey("fake_discord")
JSON_HEADERS = {"Content-Type": "application/json"}
# The body is read once, by the middleware, and kept on the request for the handler.
BODY_KEY: web.RequestKey[Any] = web.RequestKey("fake_discord_body")
FILES_KEY: web.RequestKey[list[tuple[str, bytes, str]]] = web.RequestKey("fake_discord_files")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=json.dumps(data).encode(), headers={**JSON_HEADERS, **(headers or {})})


def discord_error(status: int, code: int, message: str) -> web.Response:
    """Discord's error body: ``{"message", "code"}`` (discord.py shows both)."""
    return json_response({"message": message, "code": code}, status=status)


def no_content() -> web.Response:
    return web.Response(status=204)


def fake_of(request: web.Request) -> FakeDiscord:
    return request.app[FAKE_KEY]


def body_of(request: web.Request) -> Any:
    """The parsed JSON body (read once by the middleware), or None."""
    return request.get(BODY_KEY)


def files_of(request: web.Request) -> list[tuple[str, bytes, str]]:
    """Uploaded files of a multipart request: (filename, content, content type)."""
    return request.get(FILES_KEY, [])


async def read_body(request: web.Request) -> None:
    """Parse the body once and stash it on the request for recording and handlers.

    discord.py sends JSON, or multipart with a ``payload_json`` part plus
    ``files[n]`` parts when there are attachments.
    """
    request[BODY_KEY] = None
    request[FILES_KEY] = []
    if not request.can_read_body:
        return
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        files: list[tuple[str, bytes, str]] = []
        async for part in reader:
            if part.name == "payload_json":  # type: ignore[union-attr]
                request[BODY_KEY] = json.loads(await part.text())  # type: ignore[union-attr]
            else:
                content = await part.read()  # type: ignore[union-attr]
                files.append(
                    (
                        part.filename or part.name or "file",
                        bytes(content),  # type: ignore[union-attr]
                        part.headers.get("Content-Type", "application/octet-stream"),
                    )
                )
        request[FILES_KEY] = files
        return
    raw = await request.read()
    if raw:
        try:
            request[BODY_KEY] = json.loads(raw)
        except ValueError:
            request[BODY_KEY] = raw.decode(errors="replace")  # recorded as text
