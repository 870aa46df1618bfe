"""Stored RLE masks: JSON-friendly, round-trip exactly, and measure like pycocotools."""

import numpy as np

from radlabel import rle


def _mask() -> np.ndarray:
    mask = np.zeros((7, 5), np.uint8)
    mask[2:5, 1:3] = 1
    return mask


def test_a_mask_round_trips_through_json_friendly_rle():
    stored = rle.encode_mask(_mask())
    assert stored["size"] == [7, 5] and isinstance(stored["counts"], str)
    assert np.array_equal(rle.decode_mask(stored), _mask())
    assert rle.rle_to_json(rle.rle_for_pycocotools(stored)) == stored


def test_area_box_and_iou_of_stored_masks():
    stored = rle.encode_mask(_mask())
    shifted = rle.encode_mask(np.roll(_mask(), 1, axis=0))
    assert rle.mask_area(stored) == 6
    assert rle.bbox_of_mask(stored) == [1.0, 2.0, 2.0, 3.0]
    assert rle.mask_iou(stored, stored) == 1.0
    assert rle.mask_iou(stored, shifted) == 4 / 8
    assert rle.masks_iou([stored, shifted], [stored]).shape == (2, 1)
    assert rle.masks_iou([], [stored]).shape == (0, 1)
