from __future__ import annotations

import pytest
import torch

from worker.ml.data import DetectionDataset, collate
from worker.ml.engine import NonFiniteLossError, evaluate, select_device, train_one_epoch
from worker.ml.model import build_model

from .conftest import disk_sample


def _loader(n: int = 4, batch_size: int = 2):
    dataset = DetectionDataset([disk_sample(i) for i in range(1, n + 1)])
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, collate_fn=collate)


@pytest.mark.slow
def test_loss_decreases_on_a_fixed_toy_set():
    model = build_model(num_classes=3, min_size=64, max_size=64)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = _loader()
    device = torch.device("cpu")
    losses = train_one_epoch(model, optimizer, loader, device, warmup_iters=2, max_norm=10.0)
    for _ in range(4):
        losses += train_one_epoch(model, optimizer, loader, device, max_norm=10.0)
    assert len(losses) == 10
    assert sum(losses[-3:]) / 3 < 0.6 * sum(losses[:2]) / 2


def test_non_finite_loss_raises_before_the_optimiser_step():
    model = build_model(num_classes=3, min_size=64, max_size=64)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    real_forward = model.forward

    def nan_forward(images, targets=None):
        losses = real_forward(images, targets)
        losses["loss_mask"] = losses["loss_mask"] * float("nan")
        return losses

    model.forward = nan_forward
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    steps = []
    with pytest.raises(NonFiniteLossError):
        train_one_epoch(
            model, optimizer, _loader(), torch.device("cpu"), on_step=lambda s, d: steps.append(s)
        )
    assert steps == []
    after = model.state_dict()
    assert all(
        torch.equal(before[k], after[k])
        for k in before
        if "running" not in k and "num_batches" not in k
    )


def test_should_stop_ends_the_epoch_early():
    model = build_model(num_classes=3, min_size=64, max_size=64)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    calls = iter([False, True])
    losses = train_one_epoch(
        model, optimizer, _loader(6), torch.device("cpu"), should_stop=lambda: next(calls)
    )
    assert len(losses) == 1


def test_evaluate_returns_detections_per_image_and_restores_mode():
    model = build_model(num_classes=3, min_size=64, max_size=64, box_detections_per_img=5).train()
    detections = evaluate(model, _loader(3), select_device())
    assert [d.image_id for d in detections] == [1, 2, 3]
    assert model.training
    for d in detections:
        n = len(d.scores)
        assert d.boxes.shape == (n, 4) and d.labels.shape == (n,) and len(d.mask_rles) == n
        assert all(r["size"] == [64, 64] for r in d.mask_rles)
