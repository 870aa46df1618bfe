"""Training samples from the demo's synthetic lesions (:mod:`radlabel.demo.lesions`): windowed
real CT slices with random solid and ground-glass nodules, their masks known exactly."""

from __future__ import annotations

import numpy as np

from radlabel.demo.lesions import DEMO_WINDOW, random_lesion_slice, window
from worker.ml.data import Sample, sample_from_masks


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
    samples = []
    for k in range(n):
        synth = random_lesion_slice(rng, size=size, count=count, radius=radius)
        image = window(synth.hu, *window_level_width)
        samples.append(sample_from_masks(image, synth.masks, synth.labels, first_id + k))
    return samples
