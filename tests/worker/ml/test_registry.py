from __future__ import annotations

import math

import pytest

from worker.ml.registry import should_promote


@pytest.mark.parametrize(
    ("candidate", "active", "kwargs", "expected"),
    [
        ({"segm_AP": 0.5}, None, {}, True),
        ({"segm_AP": 0.5}, {"segm_AP": 0.4}, {}, True),
        ({"segm_AP": 0.5}, {"segm_AP": 0.5}, {}, True),
        ({"segm_AP": 0.49}, {"segm_AP": 0.5}, {}, False),
        ({"segm_AP": math.nan}, None, {}, False),
        ({"segm_AP": math.inf}, {"segm_AP": 0.1}, {}, False),
        ({"segm_AP": -math.inf}, None, {}, False),
        ({}, None, {}, False),
        ({"segm_AP": None}, None, {}, False),
        ({"segm_AP": "0.9"}, None, {}, False),
        ({"segm_AP": True}, None, {}, False),
        ({"segm_AP": 0.9}, {"segm_AP": math.nan}, {}, False),
        ({"segm_AP": 0.9}, {}, {}, False),
        ({"segm_AP": 0.2}, None, {"min_value": 0.3}, False),
        ({"segm_AP": 0.3}, None, {"min_value": 0.3}, True),
        (
            {"segm_AP": 0.1, "bbox_AP": 0.6},
            {"segm_AP": 0.5, "bbox_AP": 0.5},
            {"metric": "bbox_AP"},
            True,
        ),
        (
            {"segm_AP": 0.6, "bbox_AP": 0.4},
            {"segm_AP": 0.5, "bbox_AP": 0.5},
            {"metric": "bbox_AP"},
            False,
        ),
    ],
)
def test_promotion_rule(candidate, active, kwargs, expected):
    assert should_promote(candidate, active, **kwargs) is expected
