"""Client mistakes and outages are logged as throttled one-liners, not tracebacks."""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import BadHttpMessage

from bot.logs import ClientMistakes, Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_throttle_lets_one_line_through_per_interval_and_counts_the_rest() -> None:
    clock = Clock()
    throttle = Throttle(10.0, clock)
    assert throttle.allow() == ""
    assert [throttle.allow() for _ in range(3)] == [None, None, None]
    clock.now += 10
    assert throttle.allow() == " (3 more like it in the last 10 s)"
    assert throttle.allow() is None


def test_a_parser_refusal_becomes_one_info_line_without_traceback() -> None:
    clock = Clock()
    keep = ClientMistakes(Throttle(10.0, clock))
    try:
        raise BadHttpMessage("Invalid character in chunk size:\n\n    b'zz'\n      ^")
    except BadHttpMessage as exc:
        record = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "Error handling request from %s",
                                   ("127.0.0.1",), (type(exc), exc, exc.__traceback__))
    assert keep.filter(record)
    assert record.levelno == logging.INFO and record.exc_info is None
    assert record.getMessage() == "refused a malformed request (400): Invalid character in chunk size: b'zz' ^"
    again = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "x", (), record.exc_info)
    again.exc_info = (BadHttpMessage, BadHttpMessage("again"), None)
    assert not keep.filter(again)  # throttled
    other = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "a bug", (), None)
    assert keep.filter(other) and other.levelno == logging.ERROR  # anything else is left alone
