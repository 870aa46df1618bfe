from __future__ import annotations

import numpy as np

from radlabel.demo.lesions import CLASS_NAMES
from worker.ml.synthetic import make_samples


def test_samples_are_deterministic_by_seed():
    a = make_samples(3, seed=7, size=128, radius=(4, 8))
    b = make_samples(3, seed=7, size=128, radius=(4, 8))
    c = make_samples(3, seed=8, size=128, radius=(4, 8))
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.image, y.image) and np.array_equal(x.masks, y.masks)
    assert any(not np.array_equal(x.image, z.image) for x, z in zip(a, c, strict=True))


def test_samples_match_the_class_list():
    samples = make_samples(4, seed=1, size=128, radius=(4, 8))
    assert CLASS_NAMES == ["nodule_solid", "nodule_ggo"]
    for s in samples:
        assert s.image.dtype == np.float32 and 0 <= s.image.min() and s.image.max() <= 1
        assert s.masks.shape[0] == len(s.labels) == len(s.boxes)
        assert ((s.labels >= 1) & (s.labels <= len(CLASS_NAMES))).all()
