from __future__ import annotations

import numpy as np
import pytest

from radlabel.demo.lesions import GGO, SOLID, add_lesions, base_slices, ct_paths, placement


def test_real_ct_slices_are_found_and_in_hu():
    assert len(ct_paths()) >= 2
    slices = base_slices(128)
    assert len(slices) >= 2
    for hu in slices:
        assert hu.shape == (128, 128) and hu.dtype == np.float32
        assert hu.min() >= -1024 and np.median(hu) < 500


def test_lesions_sit_inside_the_body_and_raise_the_density():
    rng = np.random.default_rng(0)
    for hu in base_slices(128):
        placeable, noise = placement(hu)
        synth = add_lesions(
            hu, rng, count=(2, 3), radius=(4, 8), placeable=placeable, noise_std=noise
        )
        assert len(synth.labels) >= 1 and set(synth.labels) <= {SOLID, GGO}
        for mask, label in zip(synth.masks.astype(bool), synth.labels, strict=True):
            ys, xs = np.nonzero(mask)
            assert placeable[int(ys.mean()), int(xs.mean())]
            raise_hu = float((synth.hu - hu)[mask].mean())
            assert raise_hu > (120 if label == SOLID else 50)
        assert not (synth.masks.sum(0) > 1).any()


@pytest.mark.slow
def test_full_size_slices_are_512():
    assert all(s.shape == (512, 512) for s in base_slices(512))
