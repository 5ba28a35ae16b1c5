"""Log lines about clients' mistakes and outages: low level, one line, at most one per interval.

A refused request is the client's mistake, not a failure of ours, and an outage refuses every
request: logging each with a traceback would bury what matters. ``Throttle`` lets one line
through per interval and says how many it held back; ``ClientMistakes`` turns aiohttp's
traceback for a request it could not parse into such a line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiohttp.http_exceptions import HttpProcessingError


class Throttle:
    """At most one line per ``every`` seconds; the next one says how many were held back."""

    def __init__(self, every: float = 10.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._every = every
        self._monotonic = monotonic
        self._next = 0.0
        self._held = 0

    def allow(self) -> str | None:
        """None to hold this line back; otherwise a suffix to add to it ("" or the count held)."""
        now = self._monotonic()
        if now < self._next:
            self._held += 1
            return None
        held, self._held, self._next = self._held, 0, now + self._every
        return f" ({held} more like it in the last {self._every:g} s)" if held else ""


class ClientMistakes(logging.Filter):
    """On aiohttp's server logger: a request aiohttp's parser refused (a malformed request line,
    header or chunked body) becomes one INFO line, throttled, without the traceback."""

    def __init__(self, throttle: Throttle | None = None) -> None:
        super().__init__()
        self._throttle = throttle or Throttle()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        suffix = self._throttle.allow()
        if suffix is None:
            return False
        message = " ".join(str(exc.message).split())[:200]
        record.msg, record.args = f"refused a malformed request ({exc.code}): %s%s", (message, suffix)
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info, record.exc_text = None, None
        return True


def quiet_client_mistakes() -> None:
    """Install ``ClientMistakes`` on aiohttp's server logger (once)."""
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ClientMistakes) for f in logger.filters):
        logger.addFilter(ClientMistakes())
