"""Promotion rules for model versions (pure functions, no I/O).

A candidate replaces the active model only when its held-out (``val``) metric is finite, at
least ``min_value`` (the project's quality gate), and at least the active model's value. An
active model without a finite value for the metric cannot be compared: only an explicit,
audited admin action may replace it then.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def should_promote(
    candidate: Mapping[str, Any],
    active: Mapping[str, Any] | None,
    *,
    metric: str = "segm_AP",
    min_value: float = 0.0,
) -> bool:
    """Return True when ``candidate`` (val metrics) may replace ``active`` (val metrics)."""
    new = _finite(candidate.get(metric))
    if new is None or new < min_value:
        return False
    if active is None:
        return True
    old = _finite(active.get(metric))
    if old is None:
        return False
    return new >= old
