"""Box → mask: Dice against the demo's exact synthetic masks, and server time, per method.

The slices are ``seed_demo``'s synthetic-lesion CT files (its patients, slices and seed), read
back from DICOM and windowed in the demo window, as the viewer shows them. Each lesion's box is
drawn as a person draws it: each side of the lesion's tight box moved by up to ±10 % of the
lesion's size (width for the left and right sides, height for the top and bottom), seeded. Each
method runs on the whole windowed slice with that box; the time is the method's call (the
server's reading of the DICOM file comes on top, a few ms for a 512² slice).

Reproduce:
    .venv/bin/python bench/assist_dice.py

With a model the demo trained (``bench/ml_demo_learning.py --keep var/ml-demo`` keeps each run's
weights), the model engine (``Predictor.segment_box``, the box as the ROI heads' only proposal,
the lesion's own class) joins the methods, on that run's test patients only (the model never saw
them); the other methods are then measured on the same lesions:
    .venv/bin/python bench/assist_dice.py --weights var/ml-demo/efficientnet_lite0_fpn-run3.pt \
        --sha256 <printed by --keep> --run 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
import pydicom
from _django import django_setup

django_setup()

from ml_demo_learning import demo_splits  # noqa: E402  (a fresh run's splits, as trained)

from annotator.management.commands.seed_demo import LESION_PATIENTS, LESION_SLICES  # noqa: E402
from annotator.segmentation import (  # noqa: E402
    SMOOTH_SIGMA,
    as_uint8,
    box_mask,
    component_at_centre,
    pixel_box,
)
from radlabel.demo.dicom import lesion_slices  # noqa: E402
from radlabel.demo.lesions import DEMO_WINDOW, window  # noqa: E402
from radlabel.rle import decode_mask  # noqa: E402

SEED_DEMO_SEED = 2026
JITTER = 0.10  # of the lesion's size, each side
GRABCUT_ITERATIONS = 3
GRABCUT_MARGIN = 0.25  # of the box's size on each side: the background GrabCut learns from


def grabcut_mask(image: np.ndarray, box: list[float]) -> np.ndarray:
    """The candidate that lost: GrabCut in rect mode on the box and a margin around it."""
    x0, y0, x1, y1 = pixel_box(box, image.shape)
    rows, cols = image.shape
    mx, my = round((x1 - x0) * GRABCUT_MARGIN) + 2, round((y1 - y0) * GRABCUT_MARGIN) + 2
    cx0, cy0, cx1, cy1 = max(x0 - mx, 0), max(y0 - my, 0), min(x1 + mx, cols), min(y1 + my, rows)
    crop = cv2.GaussianBlur(image[cy0:cy1, cx0:cx1].astype(np.float32), (0, 0), SMOOTH_SIGMA)
    colour = cv2.cvtColor(as_uint8(crop), cv2.COLOR_GRAY2BGR)
    labels = np.zeros(crop.shape, dtype=np.uint8)
    rect = (x0 - cx0, y0 - cy0, x1 - x0, y1 - y0)
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(
        colour, labels, rect, background, foreground, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_RECT
    )
    inside = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]
    out = np.zeros(image.shape, dtype=bool)
    out[y0:y1, x0:x1] = component_at_centre(inside)
    return out


METHODS = {"threshold": box_mask, "grabcut": grabcut_mask}  # threshold is the server's


def jittered_box(mask: np.ndarray, rng: np.random.Generator) -> list[float]:
    ys, xs = np.nonzero(mask)
    x1, y1, x2, y2 = float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)
    w, h = x2 - x1, y2 - y1
    dx1, dx2, dy1, dy2 = rng.uniform(-JITTER, JITTER, 4)
    rows, cols = mask.shape
    return [
        max(x1 + dx1 * w, 0.0),
        max(y1 + dy1 * h, 0.0),
        min(x2 + dx2 * w, float(cols)),
        min(y2 + dy2 * h, float(rows)),
    ]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 2.0 * int(np.logical_and(a, b).sum()) / total if total else 1.0


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", default=sorted(METHODS), choices=sorted(METHODS))
    parser.add_argument("--seed", type=int, default=0, help="seed of the box jitter")
    parser.add_argument("--weights", type=Path, help="a demo model (its run's test split only)")
    parser.add_argument("--sha256", help="the weights' checksum")
    parser.add_argument("--run", type=int, help="the demo run that trained --weights")
    args = parser.parse_args()

    methods = {name: METHODS[name] for name in args.methods}
    if args.weights:
        if args.sha256 is None or args.run is None:
            parser.error("--weights needs --sha256 and --run")
        from worker.ml.predictor import Predictor

        predictor = Predictor(args.weights, expected_sha256=args.sha256)
        methods["model"] = lambda image, box, label: decode_mask(
            predictor.segment_box(image, box, label).mask_rle
        ).astype(bool)
        test = demo_splits(args.run)[0]["test"]
        where = f"the {len(test)} test slices of demo run {args.run} (512², window {DEMO_WINDOW})"
        cases = [(s.image, s.masks, s.labels) for s in test]
    else:
        slices = lesion_slices(LESION_PATIENTS, LESION_SLICES, seed=SEED_DEMO_SEED)
        where = f"{len(slices)} demo slices (512², window {DEMO_WINDOW})"
        cases = [
            (window(pydicom.dcmread(BytesIO(s.data)).pixel_array, *DEMO_WINDOW), s.masks, s.labels)
            for s in slices
        ]
    figures: dict[str, dict[str, list[float]]] = {m: {"dice": [], "ms": []} for m in methods}
    rng = np.random.default_rng(args.seed)
    lesions = 0
    for image, masks, labels in cases:
        for mask, label in zip(masks, labels, strict=True):
            lesions += 1
            box = jittered_box(mask, rng)
            for name, method in methods.items():
                started = time.perf_counter()
                found = method(image, box, int(label)) if name == "model" else method(image, box)
                figures[name]["ms"].append((time.perf_counter() - started) * 1000)
                figures[name]["dice"].append(dice(found, mask.astype(bool)))
    print(f"{lesions} lesions on {where}, boxes jittered ±{JITTER:.0%} per side, seed {args.seed}")
    print(
        f"{'method':<10} {'Dice median':>11} {'mean':>6} {'p10':>6} {'<0.5':>6} "
        f"{'ms p50':>7} {'p95':>7}"
    )
    for name, values in figures.items():
        print(
            f"{name:<10} {statistics.median(values['dice']):>11.3f} "
            f"{statistics.fmean(values['dice']):>6.3f} {percentile(values['dice'], 10):>6.3f} "
            f"{np.mean(np.asarray(values['dice']) < 0.5):>6.1%} "
            f"{percentile(values['ms'], 50):>7.1f} {percentile(values['ms'], 95):>7.1f}"
        )


if __name__ == "__main__":
    main()
