"""The tag classifier: its head, its two losses, a tiny training and its checksummed weights."""

import math

import numpy as np
import pytest
import torch

from worker.ml.checkpoint import CorruptWeightsError
from worker.ml.classifier import (
    ClassifierConfig,
    TagHead,
    TagPredictor,
    TagSample,
    Trunk,
    probabilities,
    tag_loss,
    train_classifier,
)


def test_the_head_gives_one_logit_per_tag_a_smooth_maximum_over_the_image():
    features = Trunk(pretrained=False)(torch.rand(2, 1, 64, 64))
    assert features.shape == (2, 112, 4, 4)
    head = TagHead(3).eval()
    logits = head(features)
    assert logits.shape == (2, 3)
    per_place = head.layers((features - head.shift) / head.scale)
    assert (logits <= per_place.amax(dim=(2, 3)) + 1e-6).all()
    assert (logits >= per_place.mean(dim=(2, 3)) - 1e-6).all()
    assert torch.allclose(probabilities(logits, exclusive=True).sum(dim=1), torch.ones(2))


def test_multi_label_loss_ignores_unknown_labels():
    logits = torch.tensor([[2.0, -1.0]])
    with_unknown = tag_loss(logits, torch.tensor([[1.0, math.nan]]), exclusive=False)
    first_only = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor([2.0]), torch.tensor([1.0])
    )
    assert with_unknown.item() == pytest.approx(first_only.item())
    none_known = tag_loss(logits, torch.tensor([[math.nan, math.nan]]), exclusive=False)
    assert none_known.item() == 0.0


def test_exclusive_loss_is_cross_entropy_of_the_one_tag():
    logits = torch.tensor([[0.5, 1.5, -0.5]])
    loss = tag_loss(logits, torch.tensor([[0.0, 1.0, 0.0]]), exclusive=True)
    expected = -torch.log_softmax(logits, dim=1)[0, 1]
    assert loss.item() == pytest.approx(expected.item())


def _samples(n: int, first: int) -> list[TagSample]:
    rng = np.random.default_rng(first)
    out = []
    for i in range(n):
        image = rng.random((64, 64)).astype(np.float32) * 0.2
        bright = i % 2 == 0
        if bright:
            image[20:40, 20:40] = 1.0
        out.append(TagSample(image, np.array([float(bright)], np.float32), first + i))
    return out


@pytest.mark.slow
def test_a_tiny_training_learns_reports_and_writes_checksummed_weights(tmp_path):
    splits = {"train": _samples(16, 0), "val": _samples(8, 100), "test": _samples(8, 200)}
    cfg = ClassifierConfig(
        size=64, pretrained=False, epochs=40, time_budget_s=None, batch_size=8, lr=1e-2
    )
    result = train_classifier(cfg, splits, ["bright"], tmp_path / "tags.pt")
    test = result.metrics["test"]["tags"]["bright"]
    assert test["images"] == 8 and test["positives"] == 4
    assert set(test["confusion"]) == {"tp", "fp", "fn", "tn"}
    assert sum(test["confusion"].values()) == 8
    assert test["auroc"]["value"] >= 0.9
    assert result.metrics["train"] == {"images": 16}
    predictor = TagPredictor(result.weights_path, expected_sha256=result.sha256)
    probs = predictor.predict([s.image for s in splits["test"]])
    assert np.allclose(probs, result.scores["test"], atol=1e-5)
    with pytest.raises(CorruptWeightsError):
        TagPredictor(result.weights_path, expected_sha256="0" * 64)


def test_training_needs_a_known_label(tmp_path):
    unknown = [TagSample(np.zeros((64, 64), np.float32), np.array([np.nan], np.float32), 1)]
    with pytest.raises(ValueError, match="no training image"):
        train_classifier(
            ClassifierConfig(size=64, pretrained=False),
            {"train": unknown},
            ["a"],
            tmp_path / "t.pt",
        )
