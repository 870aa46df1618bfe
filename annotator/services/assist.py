"""Box → mask: a radiologist's box becomes a mask of the class they chose. Nothing is stored.

Two engines behind one call, chosen here:

- ``model``: the project's active model version run on exactly that box (its ROI heads with the
  box as the only proposal), in a Celery worker of the ``interactive`` queue that keeps the
  model loaded; the web process sends the task and waits at most ``INTERACTIVE_TIMEOUT_S``. The
  model sees the image in its default window, as it was trained.
- ``classical``: :func:`annotator.segmentation.box_mask` in this process, on the image in the
  window the radiologist is looking at (the one sent, else the image's default window).

The classical engine answers, with a ``note`` saying why, when the project has no active model,
the active one was not trained on the image's modality or does not know the class, no
interactive worker is alive or none answers in time, or the model's task fails.

Boxes are ``[x1, y1, x2, y2]`` in pixels inside the image, each side at least ``MIN_BOX_SIDE``
and at most ``MAX_BOX_SIDE`` pixels, and at most ``MAX_BOX_SHARE`` of the image's area: a
lesion, not a region of the image (the method assumes one object against its surroundings, and
its time grows with the box).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import celery.exceptions

from annotator import coco
from annotator.exceptions import ApplicationError
from annotator.models import Image, LabelClass, ModelVersion
from annotator.segmentation import box_mask
from annotator.selectors.assist import INTERACTIVE_QUEUE, interactive_worker_alive
from annotator.selectors.images import image_windowed
from annotator.selectors.model_versions import active_model_version
from annotator.services.annotations import label_class_for
from backend.celery import app

logger = logging.getLogger(__name__)

SEGMENT_TASK = "radlabel.segment_box"
INTERACTIVE_TIMEOUT_S = 2.0
MIN_BOX_SIDE = 2.0
MAX_BOX_SIDE = 512.0
MAX_BOX_SHARE = 0.5
_RESULT_POLL_S = 0.02  # how often a polling result backend (the embedded stack's files) is read


@dataclass(frozen=True)
class Segmentation:
    mask: dict[str, Any]  # COCO RLE of the whole image
    box: list[float]  # [x, y, w, h], tight around the mask (the drawn box when it is empty)
    engine: str  # "model" | "classical"
    model_version: int | None
    score: float | None
    ms: float
    note: str | None


def _checked_box(image: Image, box: list[float]) -> list[float]:
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise ApplicationError("A box is four finite numbers [x1, y1, x2, y2].", code="invalid_box")
    x1, y1, x2, y2 = (float(v) for v in box)
    if x2 <= x1 or y2 <= y1:
        raise ApplicationError(
            f"The box {box} has no area: [x1, y1, x2, y2] needs x2 > x1 and y2 > y1.",
            code="invalid_box",
        )
    if x1 < 0 or y1 < 0 or x2 > image.columns or y2 > image.rows:
        raise ApplicationError(
            f"The box {box} is outside the {image.columns}x{image.rows} image.",
            code="invalid_box",
        )
    width, height = x2 - x1, y2 - y1
    if min(width, height) < MIN_BOX_SIDE:
        raise ApplicationError(
            f"The box is {width:g}x{height:g} px: each side is at least {MIN_BOX_SIDE:g} px.",
            code="invalid_box",
        )
    if max(width, height) > MAX_BOX_SIDE or width * height > MAX_BOX_SHARE * (
        image.columns * image.rows
    ):
        raise ApplicationError(
            f"The box is {width:g}x{height:g} px: box → mask takes one lesion, at most "
            f"{MAX_BOX_SIDE:g} px a side and {MAX_BOX_SHARE:.0%} of the image's area.",
            code="box_too_large",
        )
    return [x1, y1, x2, y2]


def _checked_window(window: list[float] | None) -> tuple[float, float] | None:
    if window is None:
        return None
    if len(window) != 2 or not all(math.isfinite(v) for v in window) or window[1] <= 0:
        raise ApplicationError(
            f"The window {window} is not [centre, width] with a finite centre and width > 0.",
            code="invalid_window",
        )
    return float(window[0]), float(window[1])


def _model_index(version: ModelVersion, label_class: LabelClass) -> int | None:
    return next(
        (int(index) for index, pk in version.class_map.items() if pk == label_class.pk), None
    )


def _why_not_model(
    version: ModelVersion | None, image: Image, label_class: LabelClass
) -> str | None:
    if version is None:
        return "This project has no active model yet"
    modalities = version.training_data.get("modalities")
    if modalities and image.series.modality not in modalities:
        return f"The active model v{version.number} was not trained on {image.series.modality}"
    if _model_index(version, label_class) is None:
        return f"The active model v{version.number} was not trained on '{label_class.name}'"
    if not interactive_worker_alive():
        return f"No worker serves the {INTERACTIVE_QUEUE} queue"
    return None


def _ask_model(
    image: Image, version: ModelVersion, label_class: LabelClass, box: list[float]
) -> dict[str, Any]:
    """The interactive worker's answer, ``{"mask": RLE, "score": float}``.

    Raises ``celery.exceptions.TimeoutError`` when none comes in time; the message expires
    then, so a worker that starts later does not run it for nobody.
    """
    result = app.send_task(
        SEGMENT_TASK,
        args=[image.pk, version.pk, box, _model_index(version, label_class)],
        queue=INTERACTIVE_QUEUE,
        expires=INTERACTIVE_TIMEOUT_S,
    )
    try:
        return result.get(timeout=INTERACTIVE_TIMEOUT_S, interval=_RESULT_POLL_S)
    finally:
        with contextlib.suppress(FileNotFoundError):  # the file backend when nothing came
            result.forget()


def image_segment(
    *,
    image: Image,
    label_class: int,
    box: list[float],
    window: list[float] | None = None,
) -> Segmentation:
    """The mask of the lesion in ``box`` (see the module docstring); raises ApplicationError
    naming the problem for a bad box, class or window."""
    started = time.perf_counter()
    corners = _checked_box(image, box)
    view_window = _checked_window(window)
    chosen = label_class_for(image, label_class)
    version = active_model_version(project=image.project)
    note = _why_not_model(version, image, chosen)
    if note is None and version is not None:
        try:
            answer = _ask_model(image, version, chosen, corners)
        except celery.exceptions.TimeoutError:
            note = f"No interactive worker answered within {INTERACTIVE_TIMEOUT_S:g} s"
        except Exception as error:
            logger.exception("box → mask with v%s failed on image %s", version.number, image.pk)
            note = f"The model engine failed ({type(error).__name__})"
        else:
            mask = answer["mask"]
            return Segmentation(
                mask=mask,
                box=_result_box(mask, corners),
                engine="model",
                model_version=version.number,
                score=round(float(answer["score"]), 4),
                ms=_since(started),
                note=None,
            )
    mask = coco.encode_mask(box_mask(image_windowed(image, view_window), corners))
    return Segmentation(
        mask=mask,
        box=_result_box(mask, corners),
        engine="classical",
        model_version=None,
        score=None,
        ms=_since(started),
        note=f"{note}: the classical engine answered.",
    )


def _result_box(mask: dict[str, Any], corners: list[float]) -> list[float]:
    if coco.mask_area(mask):
        return coco.bbox_of_mask(mask)
    x1, y1, x2, y2 = corners
    return [x1, y1, x2 - x1, y2 - y1]


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
