"""Each augmentation op on its own, with boxes and masks: labels follow the pixels, boxes stay
the tight boxes of the masks, occlusion keeps or drops instances by its rule, and the settings
are validated and serialised."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from radlabel.augmentation import (
    OCCLUSION_DROP_SHARE,
    OPS,
    AugmentationSettings,
    AugmentationSettingsError,
)
from worker.ml.data import sample_from_masks, sample_to_tensors
from worker.ml.transforms import BoxesFromMasks, WindowJitter, mask_boxes, train_preset

from .conftest import disk_sample

GEOMETRIC = {
    "hflip": 1.0,
    "vflip": 1.0,
    "rotation": 40.0,
    "translation": 0.2,
    "scaling": 0.3,
    "shear": 30.0,
}
INTENSITY = {"window": 0.2, "contrast": 0.9, "gamma": 2.0, "noise": 0.1, "blur": 3.0}


def only(name: str, strength: float, probability: float = 1.0) -> AugmentationSettings:
    """Settings with ``name`` alone on."""
    ops = {other: {"enabled": False} for other in OPS}
    ops[name] = {"enabled": True, "strength": strength, "probability": probability}
    return AugmentationSettings.from_json(ops)


def squares(size: int = 64):
    """A dark slice with two bright squares, each its instance's mask."""
    masks = np.zeros((2, size, size), np.uint8)
    masks[0, 12:26, 8:22] = 1
    masks[1, 36:52, 38:54] = 1
    image = np.full((size, size), 0.1, np.float32)
    image[masks.any(0)] = 0.9
    return sample_from_masks(image, masks, np.array([1, 2]), 1)


@pytest.mark.parametrize("name", GEOMETRIC)
def test_a_geometric_op_keeps_boxes_tight_around_the_transformed_masks(name):
    preset = train_preset(only(name, GEOMETRIC[name]))
    torch.manual_seed(0)
    moved = 0
    for _ in range(10):
        original = sample_to_tensors(squares())
        image, target = preset(*sample_to_tensors(squares()))
        n = len(target["labels"])
        assert n >= 1 and target["masks"].shape == (n, 64, 64)
        assert torch.equal(target["boxes"], mask_boxes(target["masks"].bool()))
        for box, mask in zip(target["boxes"], target["masks"], strict=True):
            ys, xs = torch.nonzero(mask, as_tuple=True)
            assert box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        moved += not torch.equal(target["masks"], original[1]["masks"][: len(target["masks"])])
    assert moved >= 5  # the op did move the labels


@pytest.mark.parametrize("name", GEOMETRIC)
def test_a_geometric_op_moves_the_mask_with_the_bright_pixels(name):
    preset = train_preset(only(name, GEOMETRIC[name]))
    torch.manual_seed(1)
    for _ in range(10):
        image, target = preset(*sample_to_tensors(squares()))
        on = target["masks"].bool().any(0)
        bright = image[0] > 0.5
        # interpolation blurs the squares' edges by a pixel: compare away from them
        inner = (
            on & ~torch.nn.functional.max_pool2d((~on)[None, None].float(), 3, 1, 1)[0, 0].bool()
        )
        outer = ~torch.nn.functional.max_pool2d(on[None, None].float(), 3, 1, 1)[0, 0].bool()
        assert bright[inner].all() and not bright[outer].any()
        assert (bright == on).float().mean() > 0.95


@pytest.mark.parametrize("name", INTENSITY)
def test_an_intensity_op_changes_pixels_and_leaves_labels_as_they_are(name):
    preset = train_preset(only(name, INTENSITY[name]))
    torch.manual_seed(2)
    before_image, before = sample_to_tensors(disk_sample(3))
    image, target = preset(*sample_to_tensors(disk_sample(3)))
    assert not torch.equal(image, before_image)
    assert 0.0 <= image.min() and image.max() <= 1.0 and image.dtype == torch.float32
    assert torch.equal(target["masks"], before["masks"])
    assert torch.equal(target["labels"], before["labels"])
    assert torch.equal(target["boxes"], before["boxes"])


@pytest.mark.parametrize("name", [*GEOMETRIC, *INTENSITY, "occlusion"])
def test_probability_zero_leaves_the_sample_as_it_is(name):
    strength = {**GEOMETRIC, **INTENSITY, "occlusion": 0.5}[name]
    image, target = train_preset(only(name, strength, probability=0.0))(
        *sample_to_tensors(squares())
    )
    original_image, original = sample_to_tensors(squares())
    assert torch.equal(image, original_image) and torch.equal(target["masks"], original["masks"])


def test_occlusion_keeps_labels_as_they_are_and_drops_an_instance_mostly_hidden():
    rng = np.random.default_rng(0)
    sample = squares()
    noisy = sample_from_masks(
        rng.uniform(0.0, 1.0, sample.image.shape).astype(np.float32), sample.masks, sample.labels, 1
    )
    preset = train_preset(only("occlusion", 0.5))
    torch.manual_seed(3)
    kept = dropped = 0
    for _ in range(200):
        original_image, original = sample_to_tensors(noisy)
        image, target = preset(*sample_to_tensors(noisy))
        erased = image[0] != original_image[0]
        assert erased.any()
        expected = []
        for index, mask in enumerate(original["masks"].bool()):
            hidden = (erased & mask).sum() / mask.sum()
            if hidden <= OCCLUSION_DROP_SHARE:
                expected.append(index)
        assert target["labels"].tolist() == original["labels"][expected].tolist()
        assert torch.equal(target["masks"], original["masks"][expected])
        assert torch.equal(target["boxes"], original["boxes"][expected])
        kept += len(expected)
        dropped += 2 - len(expected)
    assert kept and dropped  # both sides of the rule were seen


def test_the_defaults_are_the_augmentation_the_detector_trained_with_before():
    """The pipeline before settings existed, as it was written: same seed, same samples."""
    before = v2.Compose(
        [
            v2.RandomHorizontalFlip(p=0.5),
            v2.RandomApply(
                [
                    v2.RandomAffine(
                        degrees=10.0,
                        translate=(0.05, 0.05),
                        scale=(0.9, 1.1),
                        shear=5.0,
                        interpolation=v2.InterpolationMode.BILINEAR,
                    )
                ],
                p=0.7,
            ),
            BoxesFromMasks(),
            v2.SanitizeBoundingBoxes(min_size=1.0),
            v2.RandomApply([WindowJitter()], p=0.5),
            v2.RandomApply([v2.GaussianBlur(kernel_size=5, sigma=(0.1, 1.0))], p=0.3),
            v2.RandomApply([v2.GaussianNoise(sigma=0.02, clip=True)], p=0.3),
        ]
    )
    now = train_preset()
    for seed in range(20):
        torch.manual_seed(seed)
        a_image, a = before(*sample_to_tensors(disk_sample(seed % 5 + 1)))
        torch.manual_seed(seed)
        b_image, b = now(*sample_to_tensors(disk_sample(seed % 5 + 1)))
        assert torch.equal(a_image, b_image) and torch.equal(a["masks"], b["masks"])
        assert torch.equal(a["boxes"], b["boxes"])


def test_settings_round_trip_through_json_and_fill_left_out_fields_with_defaults():
    settings = AugmentationSettings.from_json({"vflip": {"enabled": True}, "blur": {"strength": 2}})
    again = AugmentationSettings.from_json(json.loads(json.dumps(settings.to_json())))
    assert again == settings
    assert again.ops["vflip"].enabled and again.ops["vflip"].probability == 0.5
    assert again.ops["blur"].strength == 2.0 and again.ops["rotation"] == OPS["rotation"].default
    assert AugmentationSettings.from_json({}) == AugmentationSettings()


def test_settings_name_every_unknown_key_and_bad_value():
    with pytest.raises(AugmentationSettingsError) as caught:
        AugmentationSettings.from_json(
            {
                "sharpen": {},
                "rotation": {"strength": 400, "angle": 3},
                "noise": {"probability": 1.5, "enabled": "yes"},
                "hflip": {"strength": 2},
            }
        )
    assert caught.value.problems == [
        "unknown op 'sharpen'",
        "hflip has no strength: hflip.strength is 1",
        "unknown field 'rotation.angle'",
        "rotation.strength is between 0 and 180",
        "noise.enabled is true or false",
        "noise.probability is between 0 and 1",
    ]
