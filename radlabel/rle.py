"""Masks as COCO compressed RLE, the one encoding the web app, the worker and the exports share.

A stored mask is ``{"size": [rows, cols], "counts": str}``; pycocotools wants ``counts`` as
bytes (``rle_for_pycocotools``) and returns bytes (``rle_to_json`` turns them back).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pycocotools import mask as mask_utils

Rle = dict[str, Any]


def rle_for_pycocotools(mask: Rle) -> Rle:
    """A stored RLE (``counts`` as str) as pycocotools wants it (``counts`` as bytes)."""
    counts = mask["counts"]
    return {
        "size": list(mask["size"]),
        "counts": counts.encode() if isinstance(counts, str) else counts,
    }


def rle_to_json(rle: Rle) -> Rle:
    """A pycocotools RLE as stored (``size`` as ints, ``counts`` as str)."""
    counts = rle["counts"]
    return {
        "size": [int(v) for v in rle["size"]],
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
    }


def encode_mask(array: NDArray[Any]) -> Rle:
    """A binary (rows, cols) array as stored RLE."""
    return rle_to_json(mask_utils.encode(np.asfortranarray(array.astype(np.uint8))))


def encode_masks(masks: Iterable[NDArray[Any]]) -> list[Rle]:
    """Each binary (rows, cols) mask of a stack as stored RLE."""
    return [encode_mask(m) for m in masks]


def decode_mask(mask: Rle) -> NDArray[np.uint8]:
    """A stored RLE as a (rows, cols) uint8 array of 0 and 1."""
    decoded: NDArray[np.uint8] = mask_utils.decode(rle_for_pycocotools(mask))
    return decoded


def mask_area(mask: Rle) -> int:
    return int(mask_utils.area(rle_for_pycocotools(mask)))


def bbox_of_mask(mask: Rle) -> list[float]:
    """The mask's tight box as ``[x, y, w, h]``."""
    return [float(v) for v in mask_utils.toBbox(rle_for_pycocotools(mask))]


def masks_iou(a: list[Rle], b: list[Rle]) -> NDArray[np.float64]:
    """IoU of every stored mask in ``a`` with every one in ``b`` (len(a), len(b)), all of one
    image; no crowd regions."""
    if not a or not b:
        return np.zeros((len(a), len(b)))
    found = mask_utils.iou(
        [rle_for_pycocotools(m) for m in a], [rle_for_pycocotools(m) for m in b], [0] * len(b)
    )
    return np.asarray(found, dtype=np.float64).reshape(len(a), len(b))


def mask_iou(a: Rle, b: Rle) -> float:
    """IoU of two stored masks of one image."""
    return float(masks_iou([a], [b])[0, 0])
