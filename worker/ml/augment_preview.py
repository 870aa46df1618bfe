"""Augmented samples of one image as PNGs with their boxes and masks drawn: what an admin looks
at before a retrain, to see that the labels follow the pixels."""

from __future__ import annotations

import io
from collections.abc import Sequence

import torch
from PIL import Image
from torchvision.transforms.v2 import functional as F
from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

from radlabel.augmentation import AugmentationSettings
from worker.ml.data import Sample, Target, resize_samples, sample_to_tensors
from worker.ml.transforms import train_preset

MASK_ALPHA = 0.35


def draw_sample(image: torch.Tensor, target: Target, colors: Sequence[str], size: int) -> bytes:
    """One augmented sample as an RGB PNG at most ``size`` px a side: each instance's mask
    tinted and its box outlined in its class's colour (``colors[label - 1]``)."""
    rgb = (image.clamp(0.0, 1.0) * 255).round().to(torch.uint8).expand(3, -1, -1).clone()
    instance_colors = [colors[int(label) - 1] for label in target["labels"]]
    if instance_colors:
        rgb = draw_segmentation_masks(
            rgb, target["masks"].bool(), alpha=MASK_ALPHA, colors=instance_colors
        )
        rgb = draw_bounding_boxes(rgb, target["boxes"], colors=instance_colors, width=1)
    h, w = rgb.shape[-2:]
    if max(h, w) > size:
        scale = size / max(h, w)
        rgb = F.resize(rgb, [max(1, round(h * scale)), max(1, round(w * scale))], antialias=True)
    out = io.BytesIO()
    Image.fromarray(rgb.permute(1, 2, 0).contiguous().numpy()).save(out, format="PNG")
    return out.getvalue()


def preview_pngs(
    sample: Sample,
    colors: Sequence[str],
    settings: AugmentationSettings,
    *,
    n: int,
    train_size: int = 512,
    size: int = 256,
) -> list[bytes]:
    """``n`` samples of ``settings``' augmentation on ``sample`` (labels ``1..len(colors)``),
    at the size training augments at (``train_size``, never up), drawn at ``size`` px."""
    [resized] = resize_samples([sample], train_size, train_size)
    preset = train_preset(settings)
    pngs = []
    for _ in range(n):
        image, target = preset(*sample_to_tensors(resized))
        pngs.append(draw_sample(image[0:1], target, colors, size))
    return pngs
