"""Tag figures against values computed by hand."""

import math

import numpy as np
import pytest

from worker.ml.tag_metrics import (
    auroc,
    average_precision,
    choose_threshold,
    classifier_metrics,
    paired_auroc_difference,
    tag_figures,
)

LABELS = np.array([1, 1, 0, 0], dtype=bool)
SCORES = np.array([0.9, 0.4, 0.6, 0.1])


def test_auroc_counts_the_pairs_a_positive_wins():
    # positive 0.9 beats both negatives, 0.4 beats 0.1 only: 3 of 4 pairs
    assert auroc(LABELS, SCORES) == pytest.approx(0.75)


def test_auroc_counts_a_tie_as_one_half_and_is_undefined_without_both_classes():
    assert auroc(np.array([1, 0], bool), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert math.isnan(auroc(np.array([1, 1], bool), np.array([0.2, 0.3])))


def test_average_precision_is_the_mean_precision_at_each_positive():
    labels = np.array([1, 0, 1, 0], dtype=bool)
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    # precision 1/1 at the first positive, 2/3 at the second
    assert average_precision(labels, scores) == pytest.approx((1 + 2 / 3) / 2)
    assert math.isnan(average_precision(np.array([0, 0], bool), np.array([0.1, 0.2])))


def test_threshold_is_the_best_f1_halfway_to_the_next_score():
    # F1 keeping >= 0.9, 0.6, 0.4, 0.1: 2/3, 1/2, 4/5, 2/3 -> 0.4, halfway to 0.1
    assert choose_threshold(LABELS, SCORES) == pytest.approx(0.25)
    assert choose_threshold(np.array([1, 1], bool), np.array([0.2, 0.3])) == 0.5


def test_figures_at_the_threshold_leave_unknown_labels_out():
    labels = np.array([1, 1, 0, 0, np.nan])
    scores = np.array([0.9, 0.4, 0.6, 0.1, 0.99])
    figures = tag_figures(labels, scores, 0.25, samples=200)
    assert figures["confusion"] == {"tp": 2, "fp": 1, "fn": 0, "tn": 1}
    assert (figures["images"], figures["positives"], figures["negatives"]) == (4, 2, 2)
    assert figures["f1"]["value"] == pytest.approx(0.8)
    assert figures["accuracy"]["value"] == pytest.approx(0.75)
    assert figures["auroc"]["value"] == pytest.approx(0.75)
    low, high = figures["auroc"]["low"], figures["auroc"]["high"]
    assert 0 <= low <= 0.75 <= high <= 1


def test_groups_draw_whole_patients():
    figures = tag_figures(LABELS.astype(float), SCORES, 0.25, groups=["a", "a", "b", "b"])
    assert figures["bootstrap"]["unit"] == "patient"
    assert figures["bootstrap"]["units"] == 2


def test_classifier_metrics_choose_thresholds_on_val_and_report_each_split():
    labels = {"val": LABELS[:, None].astype(float), "test": np.array([[1.0], [0.0]])}
    scores = {"val": SCORES[:, None], "test": np.array([[0.3], [0.2]])}
    thresholds, metrics = classifier_metrics(labels, scores, ["nodule"])
    assert thresholds == [pytest.approx(0.25)]
    test = metrics["test"]["tags"]["nodule"]
    assert test["threshold"] == pytest.approx(0.25)
    assert test["confusion"] == {"tp": 1, "fp": 0, "fn": 0, "tn": 1}
    assert metrics["test"]["mean_auroc"] == pytest.approx(1.0)


def test_a_tag_without_labels_in_a_split_is_not_measured():
    labels = {"val": np.array([[1.0, np.nan], [0.0, np.nan]])}
    scores = {"val": np.array([[0.8, 0.1], [0.2, 0.3]])}
    _, metrics = classifier_metrics(labels, scores, ["a", "b"])
    assert metrics["val"]["tags"]["b"]["not_measured"] == "no labelled images in val"


def test_paired_difference_of_a_better_model_is_above_zero():
    rng = np.random.default_rng(0)
    labels = (rng.random((60, 1)) < 0.5).astype(float)
    good = labels * 0.6 + rng.random((60, 1)) * 0.4
    poor = rng.random((60, 1))
    better = paired_auroc_difference(labels, good, poor, samples=300)
    assert better["difference"] > 0 and better["low"] > 0
    worse = paired_auroc_difference(labels, poor, good, samples=300)
    assert worse["high"] < 0
