"""The running version, as the installed package says (``/metrics``, ``/openapi.json``)."""

from __future__ import annotations

import importlib.metadata


def version() -> str:
    try:
        return importlib.metadata.version("conductor-e")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"
