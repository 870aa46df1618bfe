"""COCO in one place: categories, RLE and polygons, boxes, and instances-file validation.

Pure functions with no ORM and no torch. RadLabel stores masks as COCO compressed RLE with a
string ``counts`` (``{"size": [rows, cols], "counts": "..."}``; encoded and decoded in
:mod:`radlabel.rle`, whose helpers this module passes on), boxes as ``[x, y, w, h]`` in pixels
with the origin at the top-left corner of the top-left pixel.

Polygons: ``rle_to_polygons`` traces each connected component's outline (OpenCV's
``findContours``, 8-connected) on the mask upsampled twice, so its vertices lie a quarter pixel
inside the pixel edges: every pixel centre of the component is inside the polygon and every
other one outside, and a plain rasteriser gets the mask back whichever convention it keeps,
pycocotools' (pixel centres at +0.5) or PIL ``ImageDraw``'s (vertices at pixel indices). One
polygon per component. COCO polygons have no holes (an annotation's polygons are united), so
a component's holes are filled; ``rle_to_polygons`` says when it filled one, and the RLE export
keeps them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from radlabel.rle import bbox_of_mask as bbox_of_mask
from radlabel.rle import decode_mask as decode_mask
from radlabel.rle import encode_mask as encode_mask
from radlabel.rle import mask_area as mask_area
from radlabel.rle import mask_iou, rle_to_json

SPLITS = ("train", "val", "test")


def instances_path(split: str) -> str:
    return f"annotations/instances_{split}.json"


def image_file_name(split: str, image_id: int) -> str:
    return f"images/{split}/{image_id}.png"


def categories(classes: Iterable[tuple[int, str, str]]) -> list[dict[str, Any]]:
    """COCO categories from ``(label class id, name, colour)`` in the order given, ids from 1."""
    return [
        {"id": number, "name": name, "supercategory": "", "color": color, "radlabel_id": pk}
        for number, (pk, name, color) in enumerate(classes, start=1)
    ]


def box_polygon(box: Sequence[float]) -> list[list[float]]:
    x, y, w, h = box
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def rle_to_polygons(mask: dict[str, Any]) -> tuple[list[list[float]], bool]:
    """The outline of each connected component of the mask (see the module docstring), and
    whether a component had a hole that the polygons fill."""
    pixels = decode_mask(mask)
    ys, xs = np.nonzero(pixels)
    if not ys.size:
        return [], False
    top, left = int(ys.min()), int(xs.min())
    crop = pixels[top : int(ys.max()) + 1, left : int(xs.max()) + 1]
    # twice the size, and a background border so no outline runs along the array's edge
    doubled = np.pad(crop.repeat(2, axis=0).repeat(2, axis=1), 1)
    contours, hierarchy = cv2.findContours(doubled, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    outer = [c for c, h in zip(contours, hierarchy[0], strict=True) if h[3] < 0]
    polygons = []
    for contour in outer:
        points = contour.reshape(-1, 2).astype(np.float64)
        # a doubled pixel's index i (after the border) has its centre at (i - 1 + 0.5) / 2
        points = (points - 0.5) / 2 + (left, top)
        polygons.append([round(float(v), 3) for v in points.ravel()])
    polygons.sort(key=lambda p: (min(p[1::2]), min(p[0::2])))
    return polygons, len(outer) < len(contours)


def polygons_to_rle(polygons: list[list[float]], rows: int, cols: int) -> dict[str, Any]:
    return rle_to_json(mask_utils.merge(mask_utils.frPyObjects(polygons, rows, cols)))


def round_box(box: Sequence[float]) -> list[float]:
    return [round(float(v), 3) for v in box]


class CocoFormatError(ValueError):
    """The instances file is not a COCO instances document."""


@dataclass
class ParsedAnnotation:
    index: int
    coco_id: Any
    image_id: Any
    category_id: Any
    bbox: Any
    segmentation: Any
    iscrowd: Any
    has_mask: bool = True


@dataclass
class ParsedInstances:
    images: list[dict[str, Any]]
    categories: dict[Any, str]
    annotations: list[ParsedAnnotation] = field(default_factory=list)


def parse_instances(document: Any) -> ParsedInstances:
    """Check the shape of a COCO instances document (not its values: those are per annotation).

    Raises ``CocoFormatError`` naming the first problem.
    """
    if not isinstance(document, dict):
        raise CocoFormatError("The file is not a JSON object.")
    for key in ("images", "annotations", "categories"):
        if not isinstance(document.get(key), list):
            raise CocoFormatError(f"'{key}' is missing or not a list.")
    images = document["images"]
    for number, image in enumerate(images):
        if not isinstance(image, dict) or not isinstance(image.get("id"), int | str):
            raise CocoFormatError(f"images[{number}] is not an object with an 'id'.")
    names: dict[Any, str] = {}
    for number, category in enumerate(document["categories"]):
        if (
            not isinstance(category, dict)
            or "id" not in category
            or not isinstance(category.get("name"), str)
        ):
            raise CocoFormatError(f"categories[{number}] is not an object with 'id' and 'name'.")
        if not isinstance(category["id"], int | str):
            raise CocoFormatError(f"categories[{number}].id is not a number.")
        names[category["id"]] = category["name"]
    parsed = []
    for number, annotation in enumerate(document["annotations"]):
        if not isinstance(annotation, dict):
            raise CocoFormatError(f"annotations[{number}] is not an object.")
        parsed.append(
            ParsedAnnotation(
                index=number,
                coco_id=annotation.get("id"),
                image_id=annotation.get("image_id"),
                category_id=annotation.get("category_id"),
                bbox=annotation.get("bbox"),
                segmentation=annotation.get("segmentation"),
                iscrowd=annotation.get("iscrowd", 0),
                has_mask=annotation.get("has_mask", True) is not False,
            )
        )
    return ParsedInstances(images=images, categories=names, annotations=parsed)


_EDGE_SLACK = 1e-6


def _inside(values: list[float], size: int) -> bool:
    return -_EDGE_SLACK <= min(values) and max(values) <= size + _EDGE_SLACK


def valid_bbox(bbox: Any, rows: int, cols: int) -> list[float] | None:
    """``[x, y, w, h]`` inside a ``cols`` x ``rows`` image, else None (slack of 1e-6)."""
    if not isinstance(bbox, list) or len(bbox) != 4:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in bbox):
        return None
    x, y, w, h = (float(v) for v in bbox)
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        return None
    eps = _EDGE_SLACK
    if w < 0 or h < 0 or x < -eps or y < -eps or x + w > cols + eps or y + h > rows + eps:
        return None
    x, y = max(x, 0.0), max(y, 0.0)
    return [x, y, min(w, cols - x), min(h, rows - y)]


def segmentation_to_rle(segmentation: Any, rows: int, cols: int) -> dict[str, Any] | None:
    """A COCO segmentation (RLE, uncompressed RLE or polygons) as stored RLE, else None.

    An empty list means no mask and gives ``{}`` (the caller stores no mask). Polygon
    vertices must lie inside the image (``0 <= x <= cols``, ``0 <= y <= rows``, the slack of
    ``valid_bbox``) before anything is rasterised: pycocotools allocates by the coordinates.
    """
    try:
        if isinstance(segmentation, dict):
            size = segmentation.get("size")
            counts = segmentation.get("counts")
            if list(size or []) != [rows, cols]:
                return None
            if isinstance(counts, list):
                if (
                    not all(isinstance(c, int) and c >= 0 for c in counts)
                    or sum(counts) != rows * cols
                ):
                    return None
                rle = mask_utils.frPyObjects({"size": [rows, cols], "counts": counts}, rows, cols)
                return rle_to_json(rle)
            if (
                isinstance(counts, str)
                and rle_counts_total(counts, max_total=rows * cols) == rows * cols
            ):
                return {"size": [rows, cols], "counts": counts}
            return None
        if isinstance(segmentation, list):
            if not segmentation:
                return {}
            polygons = []
            for polygon in segmentation:
                if (
                    not isinstance(polygon, list)
                    or len(polygon) < 6
                    or len(polygon) % 2
                    or not all(
                        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                        for v in polygon
                    )
                    or not _inside(polygon[0::2], cols)
                    or not _inside(polygon[1::2], rows)
                ):
                    return None
                polygons.append([float(v) for v in polygon])
            return polygons_to_rle(polygons, rows, cols)
    except (ValueError, TypeError, OverflowError, KeyError):
        return None
    return None


# A run of an image of up to 2**32 pixels fits in 7 characters of 5 bits each.
_RLE_MAX_CHARS_PER_RUN = 7


def rle_counts_total(counts: str, *, max_total: int) -> int | None:
    """Sum of the runs of a compressed RLE string, or None when it does not parse or its runs
    add up to more than ``max_total`` (the image's rows × columns).

    pycocotools decodes without bounds checks, so a string is checked here (runs
    non-negative, their sum known) before any decode, in time linear in its length: a string
    longer than ``max_total`` runs could be, or a run longer than any pixel count needs, is
    refused before it is read.
    """
    length = len(counts)
    if length > _RLE_MAX_CHARS_PER_RUN * (max_total + 1):
        return None
    runs: list[int] = []
    total = 0
    position = 0
    while position < length:
        value, shift, more = 0, 0, True
        while more:
            if position >= length or shift >= _RLE_MAX_CHARS_PER_RUN:
                return None
            char = ord(counts[position]) - 48
            if not 0 <= char < 64:
                return None
            value |= (char & 0x1F) << (5 * shift)
            more = bool(char & 0x20)
            position += 1
            shift += 1
            if not more and char & 0x10:
                value |= -1 << (5 * shift)
        if len(runs) > 2:
            value += runs[-2]
        total += value
        if value < 0 or total > max_total:
            return None
        runs.append(value)
    return total


def box_and_mask(array: np.ndarray) -> dict[str, Any]:
    """A binary (rows, cols) array as an annotation's ``box`` (tight, xywh) and ``mask`` (RLE)."""
    mask = encode_mask(array)
    return {"box": bbox_of_mask(mask), "mask": mask}


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two ``[x, y, w, h]`` boxes."""
    return float(mask_utils.iou([list(a)], [list(b)], [0])[0][0])


def overlap(a: dict[str, Any], b: dict[str, Any]) -> float:
    """IoU of two annotations (``box``, ``mask``): of their masks when both have one, else of
    their boxes."""
    if a.get("mask") and b.get("mask"):
        return mask_iou(a["mask"], b["mask"])
    return box_iou(a["box"], b["box"])


def suppress_across_classes(
    proposals: list[dict[str, Any]], *, rows: int, cols: int, iou: float = 0.5
) -> list[dict[str, Any]]:
    """Class-agnostic suppression: where proposals of any classes overlap (IoU above ``iou``)
    on one finding, keep the best-scoring one and list the other classes it suppressed, best
    first, under ``alternatives`` ({label_class, score}), so a person can switch to the
    runner-up in one key instead of rejecting two or three boxes per lesion."""
    kept: list[dict[str, Any]] = []
    for spec in sorted(proposals, key=lambda p: -float(p["score"])):
        winner = next((k for k in kept if overlap(k, spec) > iou), None)
        if winner is None:
            kept.append({**spec, "alternatives": []})
            continue
        known = {winner["label_class"], *(a["label_class"] for a in winner["alternatives"])}
        if spec["label_class"] not in known:
            winner["alternatives"].append(
                {"label_class": spec["label_class"], "score": round(float(spec["score"]), 4)}
            )
    return kept
