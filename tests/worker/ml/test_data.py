from __future__ import annotations

import numpy as np

from worker.ml.data import resize_samples

from .conftest import disk_sample


def test_training_samples_are_resized_once_to_the_model_size_never_up():
    big = disk_sample(1, size=128)
    (small,) = resize_samples([big], 64, 64)
    assert small.image.shape == (64, 64) and small.masks.shape == (2, 64, 64)
    assert small.image.dtype == np.float32 and 0.0 <= small.image.min() <= small.image.max() <= 1.0
    assert np.array_equal(small.labels, big.labels) and small.image_id == big.image_id
    assert np.allclose(small.boxes, big.boxes / 2, atol=1.0)
    assert np.allclose(small.masks.sum(axis=(1, 2)), big.masks.sum(axis=(1, 2)) / 4, rtol=0.25)
    assert resize_samples([big], 256, 256)[0] is big
