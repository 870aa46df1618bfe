"""Augmentation: ``(image, target) -> (image, target)`` with torchvision.transforms.v2, built by
``train_preset`` from a project's ``radlabel.augmentation.AugmentationSettings``.

Boxes (``tv_tensors.BoundingBoxes``) and masks (``tv_tensors.Mask``) move with the pixels. After
the geometric steps the boxes are recomputed from the transformed masks, which stay exact
(a rotated box's enclosing box would grow), and instances that left the image are dropped with
their labels and masks by ``SanitizeBoundingBoxes``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from radlabel.augmentation import GEOMETRIC, OCCLUSION_DROP_SHARE, AugmentationSettings
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


class GeometricJitter(v2.RandomAffine):  # type: ignore[misc]  # torchvision ships no type hints
    """Rotation, translation, scaling and shear as one affine, each op with its own probability.

    The ops share one draw ``u``: an op applies when ``u < its probability``, so each has its own
    chance, and with equal probabilities they come together (one affine, as the detector
    always trained with: ``RandomApply(RandomAffine(...), p)`` is the case of equal ones).
    """

    def __init__(self, settings: AugmentationSettings) -> None:
        ops = settings.ops
        rotation, translation = ops["rotation"], ops["translation"]
        scaling, shear = ops["scaling"], ops["shear"]
        super().__init__(
            degrees=rotation.strength if rotation.enabled else 0.0,
            translate=(translation.strength,) * 2 if translation.enabled else None,
            scale=(1 - scaling.strength, 1 + scaling.strength) if scaling.enabled else None,
            shear=shear.strength if shear.enabled else None,
            interpolation=v2.InterpolationMode.BILINEAR,
        )
        self.chances = {
            name: ops[name].probability if ops[name].enabled else 0.0 for name in GEOMETRIC
        }

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        u = torch.rand(1).item()
        if u >= max(self.chances.values()):
            return {"skip": True}
        params = dict(super().make_params(flat_inputs))
        if u >= self.chances["rotation"]:
            params["angle"] = 0.0
        if u >= self.chances["translation"]:
            params["translate"] = (0, 0)
        if u >= self.chances["scaling"]:
            params["scale"] = 1.0
        if u >= self.chances["shear"]:
            params["shear"] = (0.0, 0.0)
        return params | {"skip": False}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if params["skip"]:
            return inpt
        return super().transform(inpt, {k: v for k, v in params.items() if k != "skip"})


class Occlusion:
    """Cutout: a random rectangle of the image (up to ``max_share`` of its area) is set to the
    image's mean.

    The rule for labels: masks and boxes stay as they are (a lesion behind an artefact is still
    there), except that an instance with more than ``OCCLUSION_DROP_SHARE`` of its mask erased is
    dropped with its box, label and mask (the model is not asked to find what it cannot see).
    """

    def __init__(self, max_share: float, p: float) -> None:
        self.max_share = max_share
        self.p = p

    def __call__(self, image: torch.Tensor, target: Target) -> tuple[torch.Tensor, Target]:
        if torch.rand(1).item() >= self.p:
            return image, target
        h, w = image.shape[-2:]
        share = torch.empty(1).uniform_(0.02, self.max_share).item()
        aspect = math.exp(torch.empty(1).uniform_(math.log(0.5), math.log(2.0)).item())
        eh = min(h, max(1, round(math.sqrt(share * h * w / aspect))))
        ew = min(w, max(1, round(math.sqrt(share * h * w * aspect))))
        y = int(torch.randint(0, h - eh + 1, (1,)).item())
        x = int(torch.randint(0, w - ew + 1, (1,)).item())
        erased = image.clone()
        erased[..., y : y + eh, x : x + ew] = image.mean()
        masks = target["masks"].bool()
        area = masks.flatten(1).sum(1)
        hidden = masks[:, y : y + eh, x : x + ew].flatten(1).sum(1)
        keep = hidden <= OCCLUSION_DROP_SHARE * area
        target = dict(target)
        for key in ("boxes", "labels", "masks"):
            target[key] = target[key][keep]
        return tv_tensors.wrap(erased, like=image), target


class Contrast(v2.Transform):  # type: ignore[misc]  # torchvision ships no type hints
    """Gain around the image's mean, uniform in ``[1 - strength, 1 + strength]``."""

    def __init__(self, strength: float) -> None:
        super().__init__()
        self.strength = strength

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"gain": torch.empty(1).uniform_(1 - self.strength, 1 + self.strength).item()}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not isinstance(inpt, tv_tensors.Image):
            return inpt
        mean = inpt.mean()
        return tv_tensors.wrap(((inpt - mean) * params["gain"] + mean).clamp_(0.0, 1.0), like=inpt)


class Gamma(v2.Transform):  # type: ignore[misc]  # torchvision ships no type hints
    """``x ** gamma``, gamma log-uniform in ``[1 / (1 + strength), 1 + strength]``."""

    def __init__(self, strength: float) -> None:
        super().__init__()
        self.log_max = math.log1p(strength)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"gamma": math.exp(torch.empty(1).uniform_(-self.log_max, self.log_max).item())}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not isinstance(inpt, tv_tensors.Image):
            return inpt
        return tv_tensors.wrap(inpt.clamp(0.0, 1.0).pow(params["gamma"]), like=inpt)


def train_preset(settings: AugmentationSettings | None = None) -> v2.Compose:
    """The training augmentation ``settings`` ask for (default: :class:`AugmentationSettings`'s).

    Order: flips, the geometric ops, boxes from the transformed masks (instances that left the
    image dropped), occlusion, window/level, contrast, gamma, blur, noise. An op that is off
    adds nothing to the pipeline.
    """
    settings = settings or AugmentationSettings()
    ops = settings.ops
    steps: list[Any] = []
    if ops["hflip"].enabled:
        steps.append(v2.RandomHorizontalFlip(p=ops["hflip"].probability))
    if ops["vflip"].enabled:
        steps.append(v2.RandomVerticalFlip(p=ops["vflip"].probability))
    if any(ops[name].enabled for name in GEOMETRIC):
        steps.append(GeometricJitter(settings))
    steps += [BoxesFromMasks(), v2.SanitizeBoundingBoxes(min_size=1.0)]
    if ops["occlusion"].enabled:
        steps.append(Occlusion(ops["occlusion"].strength, ops["occlusion"].probability))
    intensity: dict[str, Callable[[float], Any]] = {
        "window": lambda s: WindowJitter(contrast=(1 - 3 * s, 1 + 4 * s), shift=s),
        "contrast": Contrast,
        "gamma": Gamma,
        "blur": lambda s: v2.GaussianBlur(
            kernel_size=max(5, 2 * math.ceil(2 * s) + 1), sigma=(0.1, max(s, 0.1))
        ),
        "noise": lambda s: v2.GaussianNoise(sigma=s, clip=True),
    }
    for name, build in intensity.items():
        op = ops[name]
        if op.enabled:
            steps.append(v2.RandomApply([build(op.strength)], p=op.probability))
    return v2.Compose(steps)


def eval_preset() -> v2.Compose:
    """Evaluation and inference see the slice as windowed, unchanged."""
    return v2.Compose([v2.Identity()])
