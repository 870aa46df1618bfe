from __future__ import annotations

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from worker.ml.data import DetectionDataset, sample_from_masks, sample_to_tensors
from worker.ml.transforms import BoxesFromMasks, mask_boxes, train_preset

from .conftest import disk_sample


def _rect_sample(size: int = 64):
    masks = np.zeros((2, size, size), np.uint8)
    masks[0, 10:20, 5:15] = 1
    masks[1, 40:50, 50:60] = 1
    image = np.zeros((size, size), np.float32)
    image[masks.any(0)] = 1.0
    return sample_from_masks(image, masks, np.array([1, 2]), 1)


def test_horizontal_flip_moves_box_mask_and_pixels_together():
    image, target = sample_to_tensors(_rect_sample())
    image, target = v2.RandomHorizontalFlip(p=1.0)(image, target)
    masks = target["masks"]
    assert torch.equal(masks[0, 10:20, 49:59], torch.ones(10, 10, dtype=masks.dtype))
    assert torch.equal(target["boxes"], mask_boxes(masks.bool()))
    assert target["boxes"].tolist() == [[49.0, 10.0, 59.0, 20.0], [4.0, 40.0, 14.0, 50.0]]
    assert torch.equal(image[0] > 0.5, masks.any(0))


def test_affine_keeps_boxes_tight_around_masks():
    torch.manual_seed(3)
    affine = v2.Compose(
        [v2.RandomAffine(degrees=30, translate=(0.1, 0.1), shear=10), BoxesFromMasks()]
    )
    for _ in range(5):
        image, target = affine(*sample_to_tensors(_rect_sample()))
        for box, mask in zip(target["boxes"], target["masks"], strict=True):
            ys, xs = torch.nonzero(mask, as_tuple=True)
            assert box.tolist() == [
                xs.min().item(),
                ys.min().item(),
                xs.max().item() + 1,
                ys.max().item() + 1,
            ]


def test_instances_pushed_out_of_the_image_are_dropped_with_label_and_mask():
    image, target = sample_to_tensors(_rect_sample())
    shift = v2.Compose(
        [
            v2.RandomAffine(degrees=0, translate=(0.45, 0.45)),
            BoxesFromMasks(),
            v2.SanitizeBoundingBoxes(min_size=1.0),
        ]
    )
    dropped = False
    torch.manual_seed(0)
    for _ in range(30):
        _, out = shift(image, dict(target))
        n = len(out["labels"])
        assert out["boxes"].shape == (n, 4) and out["masks"].shape[0] == n
        dropped |= n < 2
    assert dropped


def test_train_preset_output_is_consistent():
    torch.manual_seed(1)
    dataset = DetectionDataset([disk_sample(i) for i in range(1, 6)], train_preset())
    for i in range(len(dataset)):
        image, target = dataset[i]
        assert isinstance(image, tv_tensors.Image) and image.shape == (1, 64, 64)
        assert image.dtype == torch.float32 and 0.0 <= image.min() and image.max() <= 1.0
        n = len(target["labels"])
        assert target["boxes"].shape == (n, 4) and target["masks"].shape == (n, 64, 64)
        assert torch.equal(target["boxes"], mask_boxes(target["masks"].bool()))
