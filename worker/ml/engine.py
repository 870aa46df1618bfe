"""The two loops: ``train_one_epoch`` and ``evaluate`` (torchvision detection references style)."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from radlabel.rle import Rle, encode_masks

logger = logging.getLogger(__name__)

MASK_THRESHOLD = 0.5


class NonFiniteLossError(RuntimeError):
    """Training diverged (a loss or the gradient norm became NaN or infinite)."""


def select_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def autocast_for(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """Mixed precision on CUDA (bf16 where supported, else fp16); full precision elsewhere."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def make_grad_scaler(device: torch.device) -> torch.amp.GradScaler | None:
    """A gradient scaler only where fp16 autocast needs one (CUDA without bf16)."""
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.amp.GradScaler("cuda")
    return None


@dataclass
class Detections:
    """Post-processed predictions for one image (masks as COCO RLE, boxes xyxy)."""

    image_id: int
    boxes: np.ndarray  # float32 (N, 4) xyxy
    labels: np.ndarray  # int64 (N,)
    scores: np.ndarray  # float32 (N,)
    mask_rles: list[Rle]


def _to_device(
    images: Sequence[torch.Tensor], targets: Sequence[dict[str, Any]], device: torch.device
) -> tuple[list[torch.Tensor], list[dict[str, Any]]]:
    moved = [img.to(device, non_blocking=True) for img in images]
    return moved, [
        {k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in t.items()}
        for t in targets
    ]


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: Iterable[Any],
    device: torch.device,
    *,
    scaler: torch.amp.GradScaler | None = None,
    warmup_iters: int = 0,
    max_norm: float = 10.0,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[float]:
    """One pass over ``loader``; returns the total loss of each step taken.

    ``warmup_iters`` > 0 ramps the learning rate linearly from 0.1 % over that many steps (pass it
    for the first epoch only). Gradients are clipped to ``max_norm``. A non-finite loss or
    gradient norm raises :class:`NonFiniteLossError` before the optimiser step. ``should_stop``
    is polled before each step and ends the epoch early when it returns True.
    """
    model.train()
    warmup = None
    if warmup_iters > 0:
        factor = 1e-3
        warmup = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda it: factor + (1 - factor) * min(it, warmup_iters) / warmup_iters,
        )
    params = [p for group in optimizer.param_groups for p in group["params"]]
    losses: list[float] = []
    for step, (images, targets) in enumerate(loader):
        if should_stop is not None and should_stop():
            break
        images, targets = _to_device(images, targets, device)
        with autocast_for(device):
            loss_dict = model(images, targets)
            loss = sum(loss_dict.values())
        values = {k: float(v.detach()) for k, v in loss_dict.items()}
        total = float(loss.detach())
        if not math.isfinite(total):
            raise NonFiniteLossError(f"loss is {total} at step {step}: {values}")
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(params, max_norm)
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            norm = nn.utils.clip_grad_norm_(params, max_norm)
            if not torch.isfinite(norm):
                raise NonFiniteLossError(f"gradient norm is {float(norm)} at step {step}")
            optimizer.step()
        if warmup is not None:
            warmup.step()
        losses.append(total)
        if on_step is not None:
            on_step(step, {**values, "loss": total})
    return losses


def detections_from_output(
    image_id: int, output: dict[str, torch.Tensor], *, mask_threshold: float = MASK_THRESHOLD
) -> Detections:
    masks = (output["masks"][:, 0] >= mask_threshold).to(torch.uint8).cpu().numpy()
    return Detections(
        image_id=int(image_id),
        boxes=output["boxes"].float().cpu().numpy(),
        labels=output["labels"].cpu().numpy().astype(np.int64),
        scores=output["scores"].float().cpu().numpy(),
        mask_rles=encode_masks(masks),
    )


def evaluate(model: nn.Module, loader: Iterable[Any], device: torch.device) -> list[Detections]:
    """Predictions for every image of ``loader`` (in ``inference_mode``, eval mode)."""
    was_training = model.training
    model.eval()
    results: list[Detections] = []
    with torch.inference_mode():
        for images, targets in loader:
            images = [img.to(device, non_blocking=True) for img in images]
            with autocast_for(device):
                outputs = model(images)
            results.extend(
                detections_from_output(t["image_id"], o)
                for t, o in zip(targets, outputs, strict=True)
            )
    model.train(was_training)
    return results
