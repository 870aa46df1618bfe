from __future__ import annotations

import numpy as np
import pytest

from radlabel.rle import decode_mask
from worker.ml.checkpoint import CorruptWeightsError, save_weights_atomic
from worker.ml.model import build_model, model_config
from worker.ml.predictor import Prediction, Predictor, as_detections, uncertainty


@pytest.fixture
def weights(tmp_path):
    config = model_config(num_classes=3, min_size=64, max_size=64, box_detections_per_img=6)
    model = build_model(**config)
    state = {"model": model.state_dict(), "config": config, "class_names": ["a", "b"]}
    path = tmp_path / "m.pt"
    return path, save_weights_atomic(state, path)


@pytest.mark.parametrize("bf16", [False, True])
def test_predict_batches_and_returns_coco_shaped_predictions(weights, bf16):
    path, sha = weights
    predictor = Predictor(path, expected_sha256=sha, batch_size=2, score_threshold=0.0, bf16=bf16)
    assert predictor.class_names == ["a", "b"]
    rng = np.random.default_rng(0)
    images = [rng.random((64, 64), dtype=np.float32) for _ in range(3)] + [
        np.zeros((48, 64), np.float32)
    ]
    results = predictor.predict(images)
    assert len(results) == 4
    for image, predictions in zip(images, results, strict=True):
        assert len(predictions) <= 6
        for p in predictions:
            assert p.label in (1, 2) and 0.0 <= p.score <= 1.0
            x, y, w, h = p.box_xywh
            assert w >= 0 and h >= 0
            assert p.mask_rle["size"] == list(image.shape)
            assert decode_mask(p.mask_rle).shape == image.shape


def test_predictor_refuses_weights_that_fail_the_checksum(weights):
    path, _ = weights
    with pytest.raises(CorruptWeightsError):
        Predictor(path, expected_sha256="f" * 64)


def _p(score: float) -> Prediction:
    return Prediction(
        label=1, score=score, box_xywh=(0, 0, 1, 1), mask_rle={"size": [1, 1], "counts": "01"}
    )


def test_uncertainty_ranks_ambiguous_images_first():
    def u(*scores, threshold=0.5):
        return uncertainty([_p(s) for s in scores], threshold=threshold)

    assert u() == 0.0
    assert u(0.5) == pytest.approx(1.0)
    assert 0.0 <= u(0.99, 0.98) < u(0.99, 0.55) <= 1.0
    assert u(0.3) == pytest.approx(u(0.7))


def test_a_half_seen_lesion_ranks_above_a_confidently_empty_image():
    # at an operating threshold of 0.8, neither image has a proposal
    half_seen, empty = [_p(0.7), _p(0.06)], [_p(0.06), _p(0.05)]
    assert uncertainty(half_seen, threshold=0.8) > 0.9 > 0.3 > uncertainty(empty, threshold=0.8)
    # the threshold is the point of doubt: a 0.7 detection is far from doubtful at 0.2
    assert uncertainty([_p(0.7)], threshold=0.2) < uncertainty([_p(0.7)], threshold=0.8)
    assert uncertainty([_p(1.0)], threshold=1.0) == uncertainty([_p(0.8)], threshold=0.8)


def test_predictions_become_detections_to_match_with_lesions():
    rle = {"size": [4, 4], "counts": "0"}
    det = as_detections(7, [_p(0.9), Prediction(2, 0.4, (1.0, 2.0, 3.0, 4.0), rle)])
    assert det.image_id == 7 and det.labels.tolist() == [1, 2]
    assert det.boxes[1].tolist() == [1.0, 2.0, 4.0, 6.0] and det.mask_rles[1] is rle
    assert np.allclose(det.scores, [0.9, 0.4]) and as_detections(1, []).boxes.shape == (0, 4)
