"""Small statistics helpers: percentiles of latency samples, medians over repetitions."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import Any


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return float(sorted_values[k])


def latency_summary(samples_s: Iterable[float]) -> dict[str, float]:
    """p50/p90/p99/p99.9/max/mean in milliseconds from samples in seconds."""
    ordered = sorted(samples_s)
    if not ordered:
        return {"p50_ms": 0.0, "p90_ms": 0.0, "p99_ms": 0.0, "p999_ms": 0.0, "max_ms": 0.0, "mean_ms": 0.0}
    return {
        "p50_ms": percentile(ordered, 50) * 1e3,
        "p90_ms": percentile(ordered, 90) * 1e3,
        "p99_ms": percentile(ordered, 99) * 1e3,
        "p999_ms": percentile(ordered, 99.9) * 1e3,
        "max_ms": ordered[-1] * 1e3,
        "mean_ms": statistics.fmean(ordered) * 1e3,
    }


def median_of(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Key by key: the median of numeric values over ``runs``; other values from the last run.

    Each metric's median is taken on its own (the median p99 need not come from the run with the
    median rate), which is what "report medians" means for noisy, repeated cells.
    """
    out: dict[str, Any] = {}
    keys: list[str] = []
    for run in runs:
        keys.extend(k for k in run if k not in keys)
    for key in keys:
        values = [r[key] for r in runs if key in r]
        numeric = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if numeric and len(numeric) == len(values):
            out[key] = statistics.median(numeric)
        else:
            out[key] = values[-1]
    return out


def spread(runs: Sequence[dict[str, Any]], key: str) -> tuple[float, float] | None:
    values = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
    return (min(values), max(values)) if values else None
