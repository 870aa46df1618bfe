"""Augmentation presets: ``(image, target) -> (image, target)`` with torchvision.transforms.v2.

Boxes (``tv_tensors.BoundingBoxes``) and masks (``tv_tensors.Mask``) move with the pixels. After
the geometric steps the boxes are recomputed from the transformed masks, which stay exact
(a rotated box's enclosing box would grow), and instances that left the image are dropped with
their labels and masks by ``SanitizeBoundingBoxes``.
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from worker.ml.data import Target


class WindowJitter(v2.Transform):  # type: ignore[misc]  # torchvision ships no type hints
    """Contrast and level jitter of an already windowed ``[0, 1]`` image (a window change)."""

    def __init__(self, contrast: tuple[float, float] = (0.85, 1.2), shift: float = 0.05) -> None:
        super().__init__()
        self.contrast = contrast
        self.shift = shift

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        gain = torch.empty(1).uniform_(*self.contrast).item()
        shift = torch.empty(1).uniform_(-self.shift, self.shift).item()
        return {"gain": gain, "shift": shift}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not isinstance(inpt, tv_tensors.Image):
            return inpt
        out = ((inpt - 0.5) * params["gain"] + 0.5 + params["shift"]).clamp_(0.0, 1.0)
        return tv_tensors.wrap(out, like=inpt)


def mask_boxes(masks: torch.Tensor) -> torch.Tensor:
    """Tight xyxy boxes of (N, H, W) masks in pixel-edge coordinates; empty masks give zeros."""
    n, h, w = masks.shape
    boxes = torch.zeros((n, 4), dtype=torch.float32)
    if n == 0:
        return boxes
    rows = masks.any(dim=2)
    cols = masks.any(dim=1)
    present = rows.any(dim=1)
    y1 = rows.int().argmax(dim=1)
    y2 = h - rows.flip(1).int().argmax(dim=1)
    x1 = cols.int().argmax(dim=1)
    x2 = w - cols.flip(1).int().argmax(dim=1)
    boxes[present] = torch.stack([x1, y1, x2, y2], dim=1)[present].float()
    return boxes


class BoxesFromMasks:
    """Replace the boxes by the tight boxes of the (transformed) masks."""

    def __call__(self, image: torch.Tensor, target: Target) -> tuple[torch.Tensor, Target]:
        masks = target["masks"]
        target["boxes"] = tv_tensors.BoundingBoxes(
            mask_boxes(masks.bool()), format="XYXY", canvas_size=tuple(masks.shape[-2:])
        )
        return image, target


def train_preset(
    *,
    hflip_prob: float = 0.5,
    degrees: float = 10.0,
    translate: float = 0.05,
    scale: tuple[float, float] = (0.9, 1.1),
    shear: float = 5.0,
    noise_sigma: float = 0.02,
) -> v2.Compose:
    """Flip, small affine (rotation, scale, translation, shear), window jitter, blur, noise."""
    return v2.Compose(
        [
            v2.RandomHorizontalFlip(p=hflip_prob),
            v2.RandomApply(
                [
                    v2.RandomAffine(
                        degrees=degrees,
                        translate=(translate, translate),
                        scale=scale,
                        shear=shear,
                        interpolation=v2.InterpolationMode.BILINEAR,
                    )
                ],
                p=0.7,
            ),
            BoxesFromMasks(),
            v2.SanitizeBoundingBoxes(min_size=1.0),
            v2.RandomApply([WindowJitter()], p=0.5),
            v2.RandomApply([v2.GaussianBlur(kernel_size=5, sigma=(0.1, 1.0))], p=0.3),
            v2.RandomApply([v2.GaussianNoise(sigma=noise_sigma, clip=True)], p=0.3),
        ]
    )


def eval_preset() -> v2.Compose:
    """Evaluation and inference see the slice as windowed, unchanged."""
    return v2.Compose([v2.Identity()])
