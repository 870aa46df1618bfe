from __future__ import annotations

import numpy as np
import pytest

from radlabel.rle import encode_masks
from worker.ml.engine import Detections
from worker.ml.evaluation import coco_ap_intervals, coco_metrics
from worker.ml.lesion_metrics import (
    DEFAULT_THRESHOLD,
    ImageMatches,
    choose_threshold,
    counts_at,
    figures_by_split,
    match_image,
    match_split,
    paired_difference,
    split_figures,
)

from .conftest import CLASS_NAMES, disk_sample


def _image(image_id: int, lesions: int, scored: list[tuple[float, bool]]) -> ImageMatches:
    scored = sorted(scored, reverse=True)
    return ImageMatches(
        image_id=image_id,
        lesions=lesions,
        scores=np.array([s for s, _ in scored]),
        found=np.array([f for _, f in scored], dtype=bool),
    )


def _detections(sample, keep, scores, labels=None) -> Detections:
    keep = np.asarray(keep, dtype=bool)
    return Detections(
        image_id=sample.image_id,
        boxes=sample.boxes[keep],
        labels=sample.labels[keep] if labels is None else np.asarray(labels),
        scores=np.asarray(scores, dtype=np.float32),
        mask_rles=encode_masks(sample.masks[keep]),
    )


def test_a_detection_finds_a_lesion_of_its_class_once():
    sample = disk_sample(1)  # a bright (1) and a dim (2) disk
    both = _detections(sample, [True, True], [0.9, 0.4])
    assert match_image(sample, both).found.tolist() == [True, True]
    swapped = _detections(sample, [True, True], [0.9, 0.4], labels=[2, 1])
    assert match_image(sample, swapped).found.tolist() == [False, False]
    twice = Detections(
        image_id=1,
        boxes=np.repeat(sample.boxes[:1], 2, 0),
        labels=np.array([1, 1]),
        scores=np.array([0.8, 0.7], np.float32),
        mask_rles=encode_masks(np.repeat(sample.masks[:1], 2, 0)),
    )
    assert match_image(sample, twice).found.tolist() == [True, False], "a duplicate is a false mark"
    missing = match_split([sample, disk_sample(2)], [both])
    assert missing[1].lesions == 2 and missing[1].scores.size == 0


def test_counts_at_a_threshold_keep_detections_at_or_above_it():
    image = _image(1, 2, [(0.9, True), (0.6, False), (0.3, True)])
    assert counts_at([image], 0.6)[0].tolist() == [1, 1, 1, 1, 1, 0]
    assert counts_at([image], 0.3)[0].tolist() == [2, 1, 0, 1, 1, 1]
    assert counts_at([image], 0.95)[0].tolist() == [0, 0, 2, 1, 1, 0]


def test_the_threshold_is_the_best_f1_and_keeps_the_same_detections():
    images = [
        _image(1, 2, [(0.95, True), (0.8, True), (0.5, False), (0.2, False)]),
        _image(2, 1, [(0.9, True), (0.45, False)]),
        _image(3, 0, [(0.6, False), (0.1, False)]),
    ]
    threshold = choose_threshold(images)
    # at 0.8 all three lesions are found with no false mark: F1 1.0; next lower score is 0.6
    assert threshold == pytest.approx(0.7)
    figures = split_figures(images, threshold)
    assert figures["f1"]["value"] == 1.0 and figures["fp_per_image"]["value"] == 0.0
    # a lower threshold would cost false marks, a higher one lesions
    assert split_figures(images, 0.55)["f1"]["value"] < 1.0
    assert split_figures(images, 0.85)["recall"]["value"] < 1.0


def test_without_lesions_the_threshold_is_the_default_and_the_split_not_measured():
    empty = [_image(1, 0, [(0.7, False)])]
    assert choose_threshold(empty) == DEFAULT_THRESHOLD
    report = figures_by_split({"val": empty, "test": []}, 0.4)
    assert report["val"]["not_measured"] == "no labels in val"
    assert report["test"] == {
        "not_measured": "no labels in test",
        "images": 0,
        "lesions": 0,
        "threshold": 0.4,
    }


def test_figures_count_images_lesions_and_have_an_interval_that_narrows_with_data():
    rng = np.random.default_rng(1)

    def split(n):  # each lesion found with probability 0.7, a false mark on a third of images
        return [
            _image(
                i,
                1,
                [(0.9, True)] * int(rng.random() < 0.7)
                + [(0.8, False)] * int(rng.random() < 1 / 3),
            )
            for i in range(n)
        ]

    small, large = split_figures(split(10), 0.5), split_figures(split(400), 0.5)
    assert small["images"] == 10 and small["lesions"] == 10
    assert small["found"] == round(small["recall"]["value"] * 10)
    for figures in (small, large):
        for name in ("precision", "recall", "f1", "all_found", "fp_per_image"):
            f = figures[name]
            assert f["low"] <= f["value"] <= f["high"], name
    width = lambda f, n: f[n]["high"] - f[n]["low"]  # noqa: E731
    assert width(large, "recall") < width(small, "recall") / 3
    assert large["recall"]["low"] < 0.7 < large["recall"]["high"]


def test_a_patient_is_drawn_with_all_its_images():
    images = [_image(i, 1, [(0.9, True)] if i < 5 else []) for i in range(10)]
    by_image = split_figures(images, 0.5)
    # two patients: one whose lesions are all found, one whose lesions are all missed
    by_patient = split_figures(images, 0.5, groups=[i < 5 for i in range(10)])
    assert by_patient["bootstrap"]["unit"] == "patient" and by_patient["bootstrap"]["units"] == 2
    assert by_patient["recall"]["value"] == by_image["recall"]["value"] == 0.5
    assert by_patient["recall"]["low"] == 0.0 and by_patient["recall"]["high"] == 1.0
    assert by_image["recall"]["low"] > 0.1


def _noisy_pair(rng, n, p_old, p_new):
    old = [_image(i, 1, [(0.9, True)] if rng.random() < p_old else []) for i in range(n)]
    new = [_image(i, 1, [(0.9, True)] if rng.random() < p_new else []) for i in range(n)]
    return new, old


def test_noise_on_a_small_val_is_not_a_gain():
    # same true recall, a different draw of which lesions each finds: noise only
    rng = np.random.default_rng(3)
    for _ in range(20):
        new, old = _noisy_pair(rng, 6, 0.5, 0.5)
        if paired_difference(new, 0.5, old, 0.5)["difference"] > 0:
            break
    comparison = paired_difference(new, 0.5, old, 0.5)
    assert comparison["difference"] > 0, "the candidate looks better on this draw"
    assert comparison["low"] <= 0, "but not by more than the noise"
    assert comparison["images"] == 6 and comparison["lesions"] == 6


def test_a_real_gain_on_enough_lesions_is_a_gain():
    new, old = _noisy_pair(np.random.default_rng(4), 80, 0.3, 0.9)
    comparison = paired_difference(new, 0.5, old, 0.5)
    assert comparison["low"] > 0 and comparison["candidate"] > comparison["active"]


def test_pairing_cancels_what_both_share():
    # the candidate finds every lesion the active one finds, plus one more in 5: paired, that
    # small gain is clear even where the two recalls' own intervals overlap widely
    old = [_image(i, 1, [(0.9, True)] if i % 2 else []) for i in range(40)]
    new = [_image(i, 1, [(0.9, True)] if i % 2 or i % 10 == 0 else []) for i in range(40)]
    comparison = paired_difference(new, 0.5, old, 0.5, figure="recall")
    assert comparison["difference"] == pytest.approx(0.1) and comparison["low"] > 0
    assert split_figures(new, 0.5)["recall"]["low"] < split_figures(old, 0.5)["recall"]["high"]
    with pytest.raises(ValueError, match="same images"):
        paired_difference(new[1:], 0.5, old[:-1], 0.5)


def test_ap_intervals_bracket_the_ap_and_need_labels():
    rng = np.random.default_rng(0)
    samples = [disk_sample(i) for i in range(1, 21)]
    detections = []
    for sample in samples:
        keep = rng.random(2) < 0.6
        detections.append(_detections(sample, keep, rng.random(int(keep.sum()))))
    metrics = coco_metrics(samples, detections, CLASS_NAMES)
    intervals = coco_ap_intervals(samples, detections, CLASS_NAMES)
    for name in ("bbox_AP", "segm_AP", "segm_AP50"):
        low, high = intervals[name]
        assert low < metrics[name] < high, name
    assert coco_ap_intervals(samples, [], CLASS_NAMES)["segm_AP"] is None
