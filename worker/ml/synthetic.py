"""Synthetic lesions with exactly known masks on real CT slices (for the demo and tests).

Base slices are the real CT images shipped in the ``pydicom-data`` wheel (head, neck/chest and
abdomen, 512²) and pydicom's own ``CT_small.dcm`` (chest, upsampled from 128²). Lesions are
ellipses with soft edges placed inside the body (largest connected tissue region, holes filled),
away from bone and from each other:

- ``nodule_solid``: blended towards a soft-tissue value (+20..+80 HU), at least 200 HU above
  the background (so it is also visible on soft tissue), sharp edge;
- ``nodule_ggo``: blended towards −650..−450 HU, at least 100 HU above the background, mottled,
  wide soft edge.

The lesion is blurred (scanner point-spread) and scanner-like noise, measured on the slice, is
added inside it. The mask is the ellipse interior. Everything is deterministic given the seed.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pydicom
import torch
from torch.nn import functional as F

from worker.ml.data import Sample, sample_from_masks

CLASS_NAMES = ["nodule_solid", "nodule_ggo"]
SOLID, GGO = 1, 2
DEMO_WINDOW = (-300.0, 1400.0)  # level, width: air to dense bone, shows both classes

_DATA_STORE_CT = ("693_J2KR.dcm", "693_UNCI.dcm", "bad_sequence.dcm", "explicit_VR-UN.dcm")


@dataclass
class SyntheticSlice:
    hu: np.ndarray  # float32 (H, W) Hounsfield units with the lesions
    masks: np.ndarray  # uint8 (N, H, W)
    labels: np.ndarray  # int64 (N,), SOLID or GGO


def ct_paths() -> list[Path]:
    """The real CT files available locally (pydicom-data and pydicom's test files)."""
    paths = []
    spec = importlib.util.find_spec("data_store")
    if spec is not None and spec.submodule_search_locations:
        root = Path(spec.submodule_search_locations[0]) / "data"
        paths += [root / name for name in _DATA_STORE_CT if (root / name).exists()]
    pyd = importlib.util.find_spec("pydicom")
    if pyd is not None and pyd.submodule_search_locations:
        small = Path(pyd.submodule_search_locations[0]) / "data" / "test_files" / "CT_small.dcm"
        if small.exists():
            paths.append(small)
    return paths


def _rescale(ds: pydicom.Dataset) -> tuple[float, float]:
    if "RescaleSlope" in ds:
        return float(ds.RescaleSlope), float(ds.RescaleIntercept)
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared and "PixelValueTransformationSequence" in shared[0]:
        item = shared[0].PixelValueTransformationSequence[0]
        return float(item.RescaleSlope), float(item.RescaleIntercept)
    return 1.0, 0.0


def load_ct_hu(path: Path, size: int = 512) -> list[np.ndarray]:
    """Every frame of a CT file in HU as float32 (size, size), resampled when needed."""
    ds = pydicom.dcmread(path)
    slope, intercept = _rescale(ds)
    frames = ds.pixel_array.astype(np.float32)
    frames = frames.reshape(-1, *frames.shape[-2:]) * slope + intercept
    out = []
    for frame in frames:
        frame = np.maximum(frame, -1024.0)
        if frame.shape != (size, size):
            t = torch.from_numpy(frame)[None, None]
            frame = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)[0, 0]
            frame = frame.numpy()
        out.append(np.ascontiguousarray(frame, dtype=np.float32))
    return out


@cache
def base_slices(size: int = 512) -> tuple[np.ndarray, ...]:
    return tuple(f for p in ct_paths() for f in load_ct_hu(p, size))


def window(hu: np.ndarray, level: float, width: float) -> np.ndarray:
    lo = level - width / 2
    return np.clip((hu - lo) / width, 0.0, 1.0).astype(np.float32)


def _gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    radius = max(1, math.ceil(3 * sigma))
    k = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(k**2) / (2 * sigma**2))
    k = k / k.sum()
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None, None]
    t = F.conv2d(F.pad(t, (radius, radius, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    t = F.conv2d(F.pad(t, (0, 0, radius, radius), mode="replicate"), k.view(1, 1, -1, 1))
    return t[0, 0].numpy()


def _erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Erosion by a square; outside the image counts as outside the mask."""
    t = F.pad(torch.from_numpy(~mask)[None, None].float(), (radius,) * 4, value=1.0)
    return ~(_square_max(t, radius, padding=0) > 0)


def _square_max(t: torch.Tensor, radius: int, padding: int) -> np.ndarray:
    """Max over a (2r+1)² square, as two 1-D passes."""
    k = 2 * radius + 1
    t = F.max_pool2d(t, (k, 1), stride=1, padding=(padding, 0))
    return F.max_pool2d(t, (1, k), stride=1, padding=(0, padding))[0, 0].numpy()


def _largest_region(mask: np.ndarray) -> np.ndarray:
    """The connected region of ``mask`` around its most interior pixel (flood fill by dilation)."""
    core = mask
    for radius in (24, 12, 4, 0):
        core = _erode(mask, radius) if radius else mask
        if core.any():
            break
    ys, xs = np.nonzero(core)
    h, w = mask.shape
    i = np.argmin((ys - h / 2) ** 2 + (xs - w / 2) ** 2)
    region = torch.zeros((1, 1, h, w))
    region[0, 0, ys[i], xs[i]] = 1
    allowed = torch.from_numpy(mask)[None, None].float()
    for _ in range(4 * max(h, w)):
        grown = F.max_pool2d(region, 9, stride=1, padding=4) * allowed
        if torch.equal(grown, region):
            break
        region = grown
    return region[0, 0].numpy() > 0


def _fill_rows_cols(mask: np.ndarray) -> np.ndarray:
    def fill(m: np.ndarray) -> np.ndarray:
        idx = np.arange(m.shape[1])
        first = np.where(m.any(1), m.argmax(1), m.shape[1])
        last = np.where(m.any(1), m.shape[1] - 1 - m[:, ::-1].argmax(1), -1)
        inside: np.ndarray = (idx[None] >= first[:, None]) & (idx[None] <= last[:, None])
        return inside

    filled: np.ndarray = fill(mask) & fill(mask.T).T
    return filled


def body_mask(hu: np.ndarray) -> np.ndarray:
    """Inside of the body: the main tissue region (> −400 HU) with enclosed air (lungs) filled."""
    return _fill_rows_cols(_largest_region(hu > -400.0))


def scanner_noise_std(hu: np.ndarray, body: np.ndarray) -> float:
    residual = hu - _gaussian_blur(hu, 1.5)
    values = residual[_erode(body, 4) & (np.abs(hu) < 200)]
    if values.size < 100:
        return 10.0
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def add_lesions(
    hu: np.ndarray,
    rng: np.random.Generator,
    *,
    count: tuple[int, int] = (1, 3),
    radius: tuple[float, float] = (7.0, 22.0),
    placeable: np.ndarray | None = None,
    noise_std: float | None = None,
) -> SyntheticSlice:
    """Place ``count`` (inclusive range) solid or ground-glass nodules inside the body.

    ``placeable`` (where a lesion centre may go) and ``noise_std`` are derived from the slice
    when not given.
    """
    h, w = hu.shape
    if placeable is None or noise_std is None:
        placeable, noise_std = placement(hu)
    free = placeable.copy()
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = hu.copy()
    masks, labels = [], []
    for _ in range(int(rng.integers(count[0], count[1] + 1))):
        label = int(rng.choice([SOLID, GGO]))
        a = float(rng.uniform(*radius))
        b = a * float(rng.uniform(0.7, 1.0))
        allowed = _erode(free, math.ceil(a) + 3)
        ys, xs = np.nonzero(allowed)
        if len(ys) == 0:
            break
        i = int(rng.integers(len(ys)))
        cy, cx = int(ys[i]), int(xs[i])
        r = math.ceil(1.6 * a) + 8
        y0, y1, x0, x1 = max(cy - r, 0), min(cy + r + 1, h), max(cx - r, 0), min(cx + r + 1, w)
        crop = out[y0:y1, x0:x1]
        theta = float(rng.uniform(0, math.pi))
        dx, dy = xx[y0:y1, x0:x1] - cx, yy[y0:y1, x0:x1] - cy
        u = (dx * math.cos(theta) + dy * math.sin(theta)) / a
        v = (-dx * math.sin(theta) + dy * math.cos(theta)) / b
        d = np.sqrt(u**2 + v**2)
        edge = 0.06 if label == SOLID else 0.18
        alpha = 1.0 / (1.0 + np.exp(np.clip((d - 1.0) / edge, -50, 50)))
        if label == SOLID:
            target = np.maximum(float(rng.uniform(20, 80)), crop + 200.0)
        else:
            target = np.maximum(float(rng.uniform(-650, -450)), crop + 100.0)
            target = target + 120.0 * _gaussian_blur(rng.standard_normal(crop.shape), 2.0)
        delta = _gaussian_blur(alpha * (target - crop), 0.8)
        noise = rng.standard_normal(crop.shape).astype(np.float32) * noise_std * alpha
        out[y0:y1, x0:x1] = crop + delta + noise
        mask = np.zeros((h, w), dtype=bool)
        mask[y0:y1, x0:x1] = d <= 1.0
        masks.append(mask.astype(np.uint8))
        labels.append(label)
        free &= ~_dilate(mask, 4)
    masks_arr = np.stack(masks) if masks else np.zeros((0, h, w), np.uint8)
    return SyntheticSlice(hu=out, masks=masks_arr, labels=np.asarray(labels, dtype=np.int64))


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    return _square_max(torch.from_numpy(mask)[None, None].float(), radius, padding=radius) > 0


def placement(hu: np.ndarray) -> tuple[np.ndarray, float]:
    """Where lesions may go (inside the body, away from bone) and the slice's noise level."""
    body = body_mask(hu)
    return body & (_gaussian_blur(hu, 3.0) < 300.0), scanner_noise_std(hu, body)


@cache
def _placements(size: int) -> tuple[tuple[np.ndarray, float], ...]:
    return tuple(placement(s) for s in base_slices(size))


def make_samples(
    n: int,
    *,
    seed: int,
    size: int = 512,
    first_id: int = 1,
    window_level_width: tuple[float, float] = DEMO_WINDOW,
    count: tuple[int, int] = (1, 3),
    radius: tuple[float, float] = (7.0, 22.0),
) -> list[Sample]:
    """``n`` windowed samples: a random real slice (randomly mirrored) with random lesions."""
    rng = np.random.default_rng(seed)
    slices, placements = base_slices(size), _placements(size)
    samples = []
    for k in range(n):
        j = int(rng.integers(len(slices)))
        hu, (placeable, noise_std) = slices[j], placements[j]
        if rng.random() < 0.5:
            hu, placeable = hu[:, ::-1].copy(), placeable[:, ::-1].copy()
        synth = add_lesions(
            hu, rng, count=count, radius=radius, placeable=placeable, noise_std=noise_std
        )
        image = window(synth.hu, *window_level_width)
        samples.append(sample_from_masks(image, synth.masks, synth.labels, first_id + k))
    return samples
