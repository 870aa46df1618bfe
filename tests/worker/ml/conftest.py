from __future__ import annotations

import numpy as np
import pytest
import torch

from worker.ml.data import InMemoryDatastore, Sample, sample_from_masks

CLASS_NAMES = ["bright", "dim"]


@pytest.fixture(autouse=True)
def _two_threads() -> None:
    torch.set_num_threads(2)
    torch.manual_seed(0)


def disk_sample(image_id: int, size: int = 64, seed: int = 0) -> Sample:
    """A noisy slice with one bright (label 1) and one dim (label 2) disk at seeded places."""
    rng = np.random.default_rng(seed + image_id)
    image = (0.2 + 0.02 * rng.standard_normal((size, size))).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size]
    masks, labels = [], []
    for label, value, (cy, cx) in (
        (1, 0.9, rng.integers(10, size // 2 - 4, 2)),
        (2, 0.55, rng.integers(size // 2 + 4, size - 10, 2)),
    ):
        r = int(rng.integers(5, 9))
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        image[mask] = value
        masks.append(mask)
        labels.append(label)
    return sample_from_masks(np.clip(image, 0, 1), np.stack(masks), np.array(labels), image_id)


def toy_datastore(n_train: int = 4, n_eval: int = 2, size: int = 64) -> InMemoryDatastore:
    return InMemoryDatastore(
        CLASS_NAMES,
        {
            "train": [disk_sample(i, size) for i in range(1, n_train + 1)],
            "val": [disk_sample(100 + i, size) for i in range(n_eval)],
            "test": [disk_sample(200 + i, size) for i in range(n_eval)],
        },
    )


@pytest.fixture
def datastore() -> InMemoryDatastore:
    return toy_datastore()
