"""Agreement between readers: pure functions on masks and labels (no ORM, no torch).

Lesions: each reader's lesions of one image are boolean (rows, cols) masks. Two readers' lesions
are paired by mask IoU with the Hungarian assignment (``scipy.optimize.linear_sum_assignment``),
which maximises the total IoU of the pairs; a pair counts as a match when its IoU is at least
``IOU_MATCH``. Pairs below the threshold are left out of the assignment (their IoU counts as 0),
so a pair that could match is never given up for two that cannot. Over several images:
detection F1 (``2 * matched / (lesions_a + lesions_b)``) and the mean Dice of the matched pairs.

Tags: Cohen's kappa for two readers, Fleiss' kappa for more (per item, the same number of
readers). A figure that is undefined (nothing to count, or chance agreement of 1) is ``None``,
never 0 or 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any, TypedDict

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from annotator.segmentation import pixel_box
from radlabel.rle import Rle, decode_mask

IOU_MATCH = 0.5

Mask = NDArray[np.bool_]


class LesionAgreement(TypedDict):
    images: int
    lesions_a: int
    lesions_b: int
    matched: int
    f1: float | None
    mean_dice: float | None


def masks_from_rle(rles: list[Rle]) -> list[Mask]:
    """Stored COCO RLE masks (``{"size": [rows, cols], "counts": str}``) as boolean arrays."""
    return [decode_mask(rle).astype(bool) for rle in rles]


def mask_from_box(box: Sequence[float], size: tuple[int, int]) -> Mask:
    """A box-only lesion (``[x, y, w, h]`` in pixels) as the mask of the pixels whose centres lie
    in the box, clipped to the image (``size`` is ``(rows, cols)``); at least one pixel."""
    x, y, w, h = box
    x0, y0, x1, y1 = pixel_box([x, y, x + w, y + h], size)
    mask = np.zeros(size, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def _overlap_counts(
    a: Sequence[NDArray[Any]], b: Sequence[NDArray[Any]]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Pixel counts: the intersection of every mask of ``a`` with every one of ``b``
    (len(a), len(b)), and the area of each mask of ``a`` and of ``b``."""
    shapes = {np.shape(m) for m in [*a, *b]}
    if len(shapes) > 1:
        raise ValueError(f"The masks of one image differ in shape: {sorted(shapes)}.")
    # float64 counts are exact up to 2**53 pixels; the product runs in BLAS
    flat_a = np.stack([np.asarray(m, dtype=bool).ravel() for m in a]).astype(np.float64)
    flat_b = np.stack([np.asarray(m, dtype=bool).ravel() for m in b]).astype(np.float64)
    return flat_a @ flat_b.T, flat_a.sum(axis=1), flat_b.sum(axis=1)


def _matches(
    a: Sequence[NDArray[Any]], b: Sequence[NDArray[Any]], threshold: float
) -> list[tuple[int, int, float, float]]:
    """The matched pairs as (index in a, index in b, IoU, Dice), by index in a."""
    if not 0 < threshold <= 1:
        raise ValueError(f"The IoU threshold must be in (0, 1], not {threshold}.")
    if not a or not b:
        return []
    inter, area_a, area_b = _overlap_counts(a, b)
    sums = area_a[:, None] + area_b[None, :]
    union = sums - inter
    # an empty mask overlaps nothing
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    rows, cols = linear_sum_assignment(np.where(iou >= threshold, iou, 0.0), maximize=True)
    return [
        (int(i), int(j), float(iou[i, j]), float(2 * inter[i, j] / sums[i, j]))
        for i, j in zip(rows, cols, strict=True)
        if iou[i, j] >= threshold
    ]


def match_lesions(
    a: list[NDArray[Any]], b: list[NDArray[Any]], threshold: float = IOU_MATCH
) -> list[tuple[int, int, float]]:
    """Two readers' lesions of one image paired (see the module docstring): (index in a,
    index in b, IoU) for each match, sorted by index in a. Masks are (rows, cols) boolean (or
    0/1) arrays, all of one shape; raises ``ValueError`` when they differ or the threshold is
    not in (0, 1]."""
    return [(i, j, iou) for i, j, iou, _ in _matches(a, b, threshold)]


def lesion_agreement(
    pairs_of_images: list[tuple[list[NDArray[Any]], list[NDArray[Any]]]],
    threshold: float = IOU_MATCH,
) -> LesionAgreement:
    """Lesion agreement of two readers over images, each given as (reader A's masks, reader B's
    masks). An image neither reader marked counts in ``images`` (they agree it is negative)
    but does not move F1. ``f1`` is ``None`` when neither reader marked a lesion, ``mean_dice``
    (over all matched pairs of all images) when nothing matched."""
    lesions_a = lesions_b = 0
    dice: list[float] = []
    for a, b in pairs_of_images:
        lesions_a += len(a)
        lesions_b += len(b)
        dice.extend(d for _, _, _, d in _matches(a, b, threshold))
    lesions = lesions_a + lesions_b
    return {
        "images": len(pairs_of_images),
        "lesions_a": lesions_a,
        "lesions_b": lesions_b,
        "matched": len(dice),
        "f1": 2 * len(dice) / lesions if lesions else None,
        "mean_dice": sum(dice) / len(dice) if dice else None,
    }


def cohen_kappa(a: list[Hashable], b: list[Hashable]) -> float | None:
    """Cohen's kappa of two readers' labels of the same items (``a[i]`` and ``b[i]`` label item
    i): ``(p_o - p_e) / (1 - p_e)`` with ``p_o`` the share of items they label alike and ``p_e``
    the agreement expected from each reader's own label shares.

    ``None`` when there are no items, and when ``p_e`` is 1: both readers gave every item one
    and the same label, so there is nothing beyond chance to measure (kappa is 0/0). Raises
    ``ValueError`` when the lists differ in length."""
    if len(a) != len(b):
        raise ValueError(f"The readers label different numbers of items: {len(a)} and {len(b)}.")
    n = len(a)
    counts_a, counts_b = Counter(a), Counter(b)
    # in counts: p_o = agree / n, p_e = chance / n**2
    agree = sum(x == y for x, y in zip(a, b, strict=True))
    chance = sum(count * counts_b[label] for label, count in counts_a.items())
    if n == 0 or chance == n * n:
        return None
    return (n * agree - chance) / (n * n - chance)


def fleiss_kappa(ratings: list[list[Hashable]]) -> float | None:
    """Fleiss' kappa: ``ratings[i]`` is the labels item i got, one per rater, every item from
    the same number m >= 2 of raters (who they are may differ per item).
    ``(P - P_e) / (1 - P_e)`` with ``P`` the mean over items of the share of rater pairs that
    agree on it and ``P_e`` the sum of the squared shares of each label over all ratings.

    ``None`` when there are no items or ``P_e`` is 1 (every rating is one label). Raises
    ``ValueError`` when items have different numbers of ratings or fewer than two."""
    if not ratings:
        return None
    m = len(ratings[0])
    if m < 2:
        raise ValueError(f"Each item needs at least two ratings; item 0 has {m}.")
    for index, item in enumerate(ratings):
        if len(item) != m:
            raise ValueError(
                f"Every item needs the same number of ratings: item 0 has {m}, "
                f"item {index} has {len(item)}."
            )
    total = len(ratings) * m
    # in counts: P = (pairs - total) / (total * (m - 1)), P_e = chance / total**2
    pairs = sum(count * count for item in ratings for count in Counter(item).values())
    chance = sum(count * count for count in Counter(r for item in ratings for r in item).values())
    if chance == total * total:
        return None
    return (total * (pairs - total) - chance * (m - 1)) / ((m - 1) * (total * total - chance))
