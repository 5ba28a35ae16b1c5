"""LOG_FORMAT=json: one JSON object per line, with what the line is about from the context."""

from __future__ import annotations

import asyncio
import json
import logging
import sys

import pytest
from aiohttp.test_utils import make_mocked_request

from bot.log_context import REQUEST, STREAM, request_id
from bot.log_format import JsonLines, configure_logging

from .helpers import from_env


def line(message: str, *args: object, level: int = logging.INFO, **extra: object) -> dict[str, object]:
    record = logging.LogRecord("bot.test", level, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    parsed: dict[str, object] = json.loads(JsonLines().format(record))
    return parsed


def test_a_line_has_time_level_logger_and_message() -> None:
    parsed = line("appended %d events", 3)
    assert parsed.keys() == {"time", "level", "logger", "message"}
    assert parsed["level"] == "INFO" and parsed["logger"] == "bot.test" and parsed["message"] == "appended 3 events"
    assert str(parsed["time"]).endswith("Z") and "T" in str(parsed["time"])


async def test_the_request_and_the_stream_come_from_the_context_where_the_line_is_logged() -> None:
    given = make_mocked_request("POST", "/api/events", headers={"X-Request-Id": "edge-1234"})
    made = make_mocked_request("GET", "/api/agents")

    async def answering(request: object, stream: str | None) -> dict[str, object]:
        REQUEST.set(request)  # type: ignore[arg-type]
        if stream is not None:
            STREAM.set(stream)
        return line("something")

    first, second = await asyncio.gather(answering(given, "acme/app#7"), answering(made, None))
    assert first["requestId"] == "edge-1234" and first["streamId"] == "acme/app#7"  # a proxy's id is kept
    assert second["requestId"] == request_id(made) and "streamId" not in second  # each task its own
    assert len(str(second["requestId"])) == 16 and request_id(made) == request_id(made)  # made once
    assert "requestId" not in line("outside any request")
    odd = make_mocked_request("GET", "/", headers={"X-Request-Id": "has spaces\tand tabs"})
    assert request_id(odd) != "has spaces\tand tabs"


def test_fields_and_the_traceback_are_kept() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("bot.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    record.fields = {"status": 500, "message": "not this one"}  # a field never replaces the line's own
    parsed = json.loads(JsonLines().format(record))
    assert parsed["status"] == 500 and parsed["message"] == "failed"
    assert "ValueError: boom" in parsed["exception"]
    assert line("x", request_id="given", stream_id="s")["requestId"] == "given"


def test_configure_logging_chooses_the_format(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging(from_env(monkeypatch, {"LOG_FORMAT": "JSON", "LOG_LEVEL": "warning"}))
        [handler] = root.handlers
        assert isinstance(handler.formatter, JsonLines) and root.level == logging.WARNING
        configure_logging(from_env(monkeypatch, {}))
        assert not isinstance(root.handlers[0].formatter, JsonLines) and root.level == logging.INFO
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
