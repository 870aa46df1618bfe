"""The pure COCO helpers: RLE strings are checked before pycocotools sees them."""

import numpy as np
from pycocotools import mask as mask_utils

from annotator import coco


def _counts(mask: np.ndarray) -> str:
    return mask_utils.encode(np.asfortranarray(mask))["counts"].decode()


def test_a_real_rle_adds_up_to_the_image():
    mask = np.zeros((64, 48), np.uint8)
    mask[5:30, 7:40] = 1
    mask[50:60, 1:3] = 1
    assert coco.rle_counts_total(_counts(mask), max_total=64 * 48) == 64 * 48


def test_runs_past_the_image_are_refused():
    mask = np.ones((64, 64), np.uint8)
    assert coco.rle_counts_total(_counts(mask), max_total=32 * 32) is None


def test_a_run_longer_than_any_pixel_count_is_refused_at_once():
    # continuation characters without end: the old check built an ever larger integer
    # (quadratic: 320 k characters took 1.6 s); a run needs at most 7 characters
    assert coco.rle_counts_total("P" * 1_500_000, max_total=512 * 512) is None
    assert coco.rle_counts_total("P" * 8 + "0", max_total=2**31) is None


def test_a_string_longer_than_the_image_allows_is_refused_before_it_is_read():
    assert coco.rle_counts_total("0" * (7 * 17 + 1), max_total=16) is None


def test_polygons_beyond_the_image_are_refused_before_rasterising(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("rasterised")

    monkeypatch.setattr(coco.mask_utils, "frPyObjects", never)
    for polygon in (
        [0, 0, 4e7, 0, 4e7, 4e7],
        [0, 0, 10, 0, 10, -4e7],
        [-0.5, 0, 10, 0, 10, 10],
        [0, 0, 64.5, 0, 64, 32],
        [0, 0, 10, 0, 10, 32.01],
    ):
        assert coco.segmentation_to_rle([polygon], 32, 64) is None, polygon


def test_a_polygon_on_the_image_edges_is_rasterised():
    mask = coco.segmentation_to_rle([[0, 0, 64, 0, 64, 32, 0, 32]], 32, 64)
    assert coco.mask_area(mask) == 32 * 64


def test_suppression_across_classes_keeps_the_best_and_lists_the_others_once():
    box = {"box": [0, 0, 10, 10], "mask": None}
    kept = coco.suppress_across_classes(
        [
            {**box, "label_class": 1, "score": 0.4},
            {**box, "label_class": 2, "score": 0.9},
            {**box, "label_class": 1, "score": 0.7},
            {"box": [50, 50, 10, 10], "mask": None, "label_class": 3, "score": 0.2},
        ],
        rows=64,
        cols=64,
    )
    assert [(k["label_class"], k["alternatives"]) for k in kept] == [
        (2, [{"label_class": 1, "score": 0.7}]),
        (3, []),
    ]
