"""Classical box → mask: the assist's engine when no model can answer. Pure numpy and OpenCV.

The input is the frame as the radiologist sees it: values in ``[0, 1]`` through the window
(H, W), and the box they drew, ``[x1, y1, x2, y2]`` in pixels (origin at the top-left corner of
the top-left pixel). The output is a binary (H, W) mask that is empty outside the box.

The method: smooth the box a little (scanner noise is not an edge), split it in two by Otsu's
threshold, take the side the box's centre is on (a lesion brighter or darker than its
surroundings), keep the connected component nearest the centre and fill its holes. Chosen by
``bench/assist_dice.py`` on the demo's synthetic lesions with boxes jittered as a person draws
them (±10 % per side): Dice median 0.89, mean 0.86, 0.5 ms a box; OpenCV's GrabCut in rect mode
(the box plus a margin, three iterations) reached median 0.87 but mean 0.55 (below 0.5 on
41 % of the lesions) at 3 ms.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

SMOOTH_SIGMA = 1.0  # pixels: scanner noise is not an edge
MIN_CONTRAST = 2  # grey levels (of 255) between the box's darkest and brightest pixel


def pixel_box(box: Sequence[float], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The pixels whose centres lie in the box: rows ``y0:y1``, columns ``x0:x1``."""
    rows, cols = shape
    x1, y1, x2, y2 = box
    x0 = min(max(round(x1), 0), cols - 1)
    y0 = min(max(round(y1), 0), rows - 1)
    return x0, y0, max(min(round(x2), cols), x0 + 1), max(min(round(y2), rows), y0 + 1)


def component_at_centre(binary: np.ndarray) -> np.ndarray:
    """The connected component (8-connected) nearest the array's centre, its holes filled."""
    count, labels, _, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros(binary.shape, dtype=bool)
    rows, cols = binary.shape
    ys, xs = np.nonzero(labels)
    nearest = np.argmin((ys - (rows - 1) / 2) ** 2 + (xs - (cols - 1) / 2) ** 2)
    component = (labels == labels[ys[nearest], xs[nearest]]).astype(np.uint8)
    # holes: background not reachable from the border of a padded copy
    padded = np.pad(component, 1)
    outside = padded.copy()
    cv2.floodFill(outside, None, (0, 0), 1)
    return (component | (1 - outside[1:-1, 1:-1])).astype(bool)


def as_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)


def box_mask(image: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """The lesion in ``box`` by Otsu's threshold (see the module docstring)."""
    x0, y0, x1, y1 = pixel_box(box, image.shape)
    crop = cv2.GaussianBlur(image[y0:y1, x0:x1].astype(np.float32), (0, 0), SMOOTH_SIGMA)
    grey = as_uint8(crop)
    out = np.zeros(image.shape, dtype=bool)
    if int(grey.max()) - int(grey.min()) < MIN_CONTRAST:
        return out  # a flat box (e.g. saturated by the window) holds no lesion to outline
    level, above = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    rows, cols = above.shape
    centre = crop[rows // 4 : rows - rows // 4 or None, cols // 4 : cols - cols // 4 or None]
    lesion = above if float(np.median(centre)) * 255.0 > level else 1 - above
    out[y0:y1, x0:x1] = component_at_centre(lesion)
    return out
