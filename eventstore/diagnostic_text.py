"""Diagnostics (execution logs, agent logs) as they can be stored: never lost for a cosmetic defect.

PostgreSQL's jsonb and text refuse NUL, and a log line of a tool's output may hold one: it is
replaced with U+FFFD (said in the answer's ``warnings``) instead of refusing the whole batch, as
for analytics events. Bodies are bounded in depth (``MAX_DEPTH``) before anything reads them, like
events, so no body can cost unbounded work.
"""

from __future__ import annotations

from typing import Any

from .submission import MAX_DEPTH, InvalidSubmission

NUL_REPLACED = "NUL replaced with U+FFFD"


def storable(body: Any) -> tuple[Any, tuple[str, ...]]:
    """``body`` with NUL replaced in every string (keys included), and the warnings for the answer;
    InvalidSubmission (``too_deeply_nested``) for containers nested deeper than MAX_DEPTH."""
    found: list[bool] = []
    cleaned = _clean(body, 1, found)
    return cleaned, (NUL_REPLACED,) if found else ()


def _clean(value: Any, depth: int, found: list[bool]) -> Any:
    if isinstance(value, str):
        if "\x00" in value:
            found.append(True)
            return value.replace("\x00", "\ufffd")
        return value
    if isinstance(value, (dict, list)):
        if depth > MAX_DEPTH:
            raise InvalidSubmission("too_deeply_nested", f"the body is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, list):
            return [_clean(v, depth + 1, found) for v in value]
        return {_clean(k, depth, found): _clean(v, depth + 1, found) for k, v in value.items()}
    return value
