"""Inference for pre-annotation: a verified checkpoint, batched predictions, an uncertainty score.

A checkpoint is the dict written by :mod:`worker.ml.train`: ``model`` (state dict), ``config``
(the :func:`~worker.ml.model.build_model` keywords) and ``class_names``. It is loaded once, after
its sha256 is checked against the registered one.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision.models.detection.roi_heads import paste_masks_in_image

from radlabel.rle import Rle, encode_mask
from worker.ml.checkpoint import CorruptWeightsError, load_weights
from worker.ml.data import to_image_tensor
from worker.ml.engine import (
    MASK_THRESHOLD,
    Detections,
    autocast_for,
    detections_from_output,
    select_device,
)
from worker.ml.evaluation import xyxy_to_xywh
from worker.ml.model import build_model

# Serving keeps detections down to this score (or the version's threshold, if lower): those
# below the threshold are not proposed but tell where the model half-sees something.
LOW_SCORE_FLOOR = 0.05


@dataclass(frozen=True)
class Prediction:
    label: int  # 1..C
    score: float
    box_xywh: tuple[float, float, float, float]  # pixels
    mask_rle: Rle  # {"size": [h, w], "counts": str}


@dataclass(frozen=True)
class BoxMask:
    mask_rle: Rle  # {"size": [h, w], "counts": str} of the whole image
    score: float  # the box classifier's probability of the chosen class on that box


class Predictor:
    """Loads a checkpoint once; ``predict`` runs batches under ``inference_mode``.

    ``bf16=True`` runs CPU inference under bfloat16 autocast (faster on CPUs with bf16 support,
    see ``bench/ml_inference.py`` for speed and AP); CUDA always uses its mixed precision.
    """

    def __init__(
        self,
        weights_path: Path,
        *,
        expected_sha256: str,
        device: torch.device | None = None,
        score_threshold: float = 0.05,
        batch_size: int = 4,
        bf16: bool = False,
        channels_last: bool = True,
    ) -> None:
        checkpoint = load_weights(weights_path, expected_sha256=expected_sha256)
        self.sha256 = expected_sha256
        self.config = dict(checkpoint["config"])
        self.class_names = list(checkpoint.get("class_names", []))
        self.device = device or select_device()
        self.score_threshold = score_threshold
        self.batch_size = batch_size
        self.bf16 = bf16
        # The checkpoint holds every weight; build the structure without reading pretrained files.
        # A frozen batch-norm (pretrained backbones) has no ``num_batches_tracked`` buffer.
        model = build_model(**{**self.config, "pretrained_backbone": False})
        missing, unexpected = model.load_state_dict(checkpoint["model"], strict=False)
        if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):
            raise CorruptWeightsError(
                f"{Path(weights_path).name}: weights do not fit {self.config['backbone']}"
            )
        model.roi_heads.score_thresh = score_threshold  # no mask work for discarded boxes
        model.eval().to(self.device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.device.type == "cpu" and self.bf16:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return autocast_for(self.device)

    def predict(self, images: Sequence[np.ndarray]) -> list[list[Prediction]]:
        """Windowed (H, W) float32 ``[0, 1]`` slices → predictions per image, best first."""
        out: list[list[Prediction]] = []
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                batch = [
                    to_image_tensor(im).to(self.device)
                    for im in images[start : start + self.batch_size]
                ]
                with self._autocast():
                    outputs = self.model(batch)
                for output in outputs:
                    det = detections_from_output(0, output)
                    out.append(
                        [
                            Prediction(
                                label=int(label),
                                score=float(score),
                                box_xywh=xyxy_to_xywh(box),
                                mask_rle=rle,
                            )
                            for box, label, score, rle in zip(
                                det.boxes, det.labels, det.scores, det.mask_rles, strict=True
                            )
                        ]
                    )
        return out

    def segment_box(self, image: np.ndarray, box: Sequence[float], label: int) -> BoxMask:
        """The mask head's answer for class ``label`` (1..C) on exactly ``box``.

        ``box`` is ``[x1, y1, x2, y2]`` in the pixels of ``image`` (windowed (H, W) float32
        ``[0, 1]``). It is the ROI heads' only proposal: the box head scores it and the mask
        head segments it, on the backbone's features of the transformed image, with no RPN, no
        box regression and no suppression; the mask is pasted back into the image as the
        detector's own masks are.
        """
        model = self.model
        rows, cols = image.shape
        corners = torch.tensor([list(box)], dtype=torch.float32, device=self.device)
        with torch.inference_mode():
            images, _ = model.transform([to_image_tensor(image).to(self.device)])
            (height, width) = images.image_sizes[0]
            scale = torch.tensor(
                [width / cols, height / rows, width / cols, height / rows], device=self.device
            )
            proposals = [corners * scale]
            heads = model.roi_heads
            with self._autocast():
                features = model.backbone(images.tensors)
                pooled = heads.box_roi_pool(features, proposals, images.image_sizes)
                class_logits, _ = heads.box_predictor(heads.box_head(pooled))
                pooled = heads.mask_roi_pool(features, proposals, images.image_sizes)
                mask_logits = heads.mask_predictor(heads.mask_head(pooled))
            score = torch.softmax(class_logits.float(), dim=-1)[0, label]
            probabilities = mask_logits.float()[:, label : label + 1].sigmoid()
            pasted = paste_masks_in_image(probabilities, corners, (rows, cols))
        mask = (pasted[0, 0] >= MASK_THRESHOLD).to(torch.uint8).cpu().numpy()
        return BoxMask(mask_rle=encode_mask(mask), score=float(score))


def as_detections(image_id: int, predictions: Sequence[Prediction]) -> Detections:
    """Predictions in the evaluation's shape (xyxy boxes), e.g. to match them with lesions."""
    return Detections(
        image_id=image_id,
        boxes=np.array(
            [[x, y, x + w, y + h] for x, y, w, h in (p.box_xywh for p in predictions)],
            dtype=np.float32,
        ).reshape(-1, 4),
        labels=np.array([p.label for p in predictions], dtype=np.int64),
        scores=np.array([p.score for p in predictions], dtype=np.float32),
        mask_rles=[p.mask_rle for p in predictions],
    )


def _binary_entropy(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


def _around_threshold(score: float, threshold: float) -> float:
    """A score on a scale where the operating threshold sits at 0.5 (0 and 1 stay put)."""
    if score < threshold:
        return 0.5 * score / threshold
    return 0.5 + 0.5 * (score - threshold) / max(1.0 - threshold, 1e-6)


def score_uncertainty(score: float, threshold: float) -> float:
    """How unsure one score is about its decision at ``threshold``: the binary entropy of the
    score placed on a scale where the threshold is 0.5 (1 at the threshold, 0 at 0 and 1)."""
    return _binary_entropy(_around_threshold(score, threshold))


def uncertainty(predictions: Sequence[Prediction], *, threshold: float) -> float:
    """Image-level uncertainty in ``[0, 1]``: how close the image's most doubtful detection is
    to the version's operating ``threshold``.

    Each score is placed on a scale where the threshold is 0.5, and the image scores the largest
    binary entropy there: a detection just above or just below the threshold is the one the
    model was least sure to propose, and one such detection makes the image worth a
    radiologist's look first, however many confident ones it also has. Pass every detection down
    to ``LOW_SCORE_FLOOR``, not only the proposals: a lesion the model half-sees below the
    threshold is proposed nowhere, and only its detection keeps the image from looking as
    certain as a confidently empty one (no detection, or only ones far below the threshold).
    """
    return max(
        (score_uncertainty(p.score, threshold) for p in predictions),
        default=0.0,
    )
