"""Training samples from the demo's synthetic lesions (:mod:`radlabel.demo.lesions`): windowed
real CT slices with random solid and ground-glass nodules, their masks known exactly."""

from __future__ import annotations

from functools import cache

import numpy as np

from radlabel.demo.lesions import DEMO_WINDOW, add_lesions, base_slices, placement, window
from worker.ml.data import Sample, sample_from_masks


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
