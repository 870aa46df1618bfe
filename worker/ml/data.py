"""Samples, the abstract datastore the ML code reads through, and the torch Dataset wrapper.

The ML code reaches labelled data only through :class:`Datastore` (the web application
implements it over its database; :class:`InMemoryDatastore` and :class:`NpzDatastore` serve
tests and the command line). A :class:`Sample` holds one windowed single-channel slice and its
instances; the model input is that slice as a ``1×H×W`` float tensor in ``[0, 1]``.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision import tv_tensors

SPLITS = ("train", "val", "test")


@dataclass
class Sample:
    image: np.ndarray  # float32 (H, W) in [0, 1], already windowed
    boxes: np.ndarray  # float32 (N, 4) xyxy in pixels
    labels: np.ndarray  # int64 (N,), 1..C (0 is background)
    masks: np.ndarray  # uint8 (N, H, W), 0/1
    image_id: int

    def __post_init__(self) -> None:
        h, w = self.image.shape
        n = len(self.labels)
        if self.boxes.shape != (n, 4) or self.masks.shape != (n, h, w):
            raise ValueError(
                f"sample {self.image_id}: boxes {self.boxes.shape}, masks {self.masks.shape} "
                f"do not match {n} labels on a {h}x{w} image"
            )


def boxes_from_masks(masks: np.ndarray) -> np.ndarray:
    """Tight xyxy boxes (pixel edges, so a 1-pixel mask is 1 wide) of (N, H, W) masks."""
    boxes = np.zeros((len(masks), 4), dtype=np.float32)
    for i, mask in enumerate(masks):
        ys, xs = np.nonzero(mask)
        if len(xs):
            boxes[i] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    return boxes


def resize_samples(samples: Sequence[Sample], min_size: int, max_size: int) -> list[Sample]:
    """Samples scaled down as the model's transform would (never up), masks exact to 1/2 pixel.

    Training resizes each image once per job with this, so augmentation works at the model's
    size instead of the stored one (the model's own resize then does nothing). Masks are
    area-averaged and thresholded at one half; their boxes are recomputed from them.
    """
    out = []
    for sample in samples:
        h, w = sample.image.shape
        scale = min(min_size / min(h, w), max_size / max(h, w))
        if scale >= 1.0:
            out.append(sample)
            continue
        size = (max(round(h * scale), 1), max(round(w * scale), 1))
        image = torch.nn.functional.interpolate(
            to_image_tensor(sample.image)[None], size=size, mode="bilinear", antialias=True
        )[0, 0].clamp_(0.0, 1.0)
        masks = torch.from_numpy(sample.masks).float()[None]
        masks = torch.nn.functional.interpolate(masks, size=size, mode="area")[0] >= 0.5
        out.append(sample_from_masks(image.numpy(), masks.numpy(), sample.labels, sample.image_id))
    return out


def sample_from_masks(
    image: np.ndarray, masks: np.ndarray, labels: np.ndarray, image_id: int
) -> Sample:
    masks = np.ascontiguousarray(masks, dtype=np.uint8).reshape(-1, *image.shape)
    return Sample(
        image=np.ascontiguousarray(image, dtype=np.float32),
        boxes=boxes_from_masks(masks),
        labels=np.asarray(labels, dtype=np.int64).reshape(-1),
        masks=masks,
        image_id=int(image_id),
    )


class Datastore(ABC):
    """Where training and evaluation read labelled samples from."""

    @property
    @abstractmethod
    def class_names(self) -> list[str]:
        """Instance class names; label ``i`` (1-based) is ``class_names[i - 1]``."""

    @abstractmethod
    def samples(self, split: str) -> Sequence[Sample]:
        """Samples of one split: ``train`` (fit), ``val`` (selection), ``test`` (report)."""


class InMemoryDatastore(Datastore):
    def __init__(self, class_names: Sequence[str], splits: Mapping[str, Sequence[Sample]]) -> None:
        self._class_names = list(class_names)
        self._splits = {name: list(samples) for name, samples in splits.items()}

    @property
    def class_names(self) -> list[str]:
        return list(self._class_names)

    def samples(self, split: str) -> Sequence[Sample]:
        return self._splits.get(split, [])


def save_sample_npz(sample: Sample, path: Path) -> None:
    np.savez_compressed(
        path,
        image=sample.image,
        boxes=sample.boxes,
        labels=sample.labels,
        masks=sample.masks,
        image_id=np.int64(sample.image_id),
    )


def load_sample_npz(path: Path) -> Sample:
    with np.load(path, allow_pickle=False) as z:
        return Sample(
            image=z["image"].astype(np.float32),
            boxes=z["boxes"].astype(np.float32).reshape(-1, 4),
            labels=z["labels"].astype(np.int64),
            masks=z["masks"].astype(np.uint8),
            image_id=int(z["image_id"]),
        )


class NpzDatastore(Datastore):
    """A directory ``classes.json`` + ``{train,val,test}/*.npz`` (one :class:`Sample` each)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._class_names = json.loads((self.root / "classes.json").read_text())

    @staticmethod
    def write(
        root: Path, class_names: Sequence[str], splits: Mapping[str, Sequence[Sample]]
    ) -> None:
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        (root / "classes.json").write_text(json.dumps(list(class_names)))
        for split, samples in splits.items():
            (root / split).mkdir(exist_ok=True)
            for sample in samples:
                save_sample_npz(sample, root / split / f"{sample.image_id:08d}.npz")

    @property
    def class_names(self) -> list[str]:
        return list(self._class_names)

    def samples(self, split: str) -> Sequence[Sample]:
        return [load_sample_npz(p) for p in sorted((self.root / split).glob("*.npz"))]


Target = dict[str, Any]
Transform = Callable[[tv_tensors.Image, Target], tuple[tv_tensors.Image, Target]]


def to_image_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W) float32 in [0, 1] → (1, H, W) tensor (the model's input format)."""
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None]


def sample_to_tensors(sample: Sample) -> tuple[tv_tensors.Image, Target]:
    h, w = sample.image.shape
    image = tv_tensors.Image(to_image_tensor(sample.image))
    target: Target = {
        "boxes": tv_tensors.BoundingBoxes(
            torch.from_numpy(sample.boxes).reshape(-1, 4), format="XYXY", canvas_size=(h, w)
        ),
        "labels": torch.from_numpy(sample.labels),
        "masks": tv_tensors.Mask(torch.from_numpy(sample.masks).reshape(-1, h, w)),
        "image_id": sample.image_id,
    }
    return image, target


class DetectionDataset(torch.utils.data.Dataset[tuple[torch.Tensor, Target]]):
    """Samples as ``(image (1,H,W), target)`` pairs, optionally through a transform preset."""

    def __init__(self, samples: Sequence[Sample], transforms: Transform | None = None) -> None:
        self.samples = list(samples)
        self.transforms = transforms

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Target]:
        image, target = sample_to_tensors(self.samples[index])
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target


def collate(
    batch: Sequence[tuple[torch.Tensor, Target]],
) -> tuple[tuple[torch.Tensor, ...], tuple[Target, ...]]:
    images, targets = zip(*batch, strict=True)
    return images, targets
