"""Agreement figures against values computed by hand (the arithmetic is in the comments)."""

import numpy as np
import pytest

from annotator.agreement import (
    cohen_kappa,
    fleiss_kappa,
    lesion_agreement,
    mask_from_box,
    masks_from_rle,
    match_lesions,
)
from radlabel.rle import encode_mask


def _strip(start: int, stop: int, cols: int = 100) -> np.ndarray:
    """Columns ``start:stop`` of a 4-row image: the IoU of two strips is that of their column
    ranges."""
    mask = np.zeros((4, cols), dtype=bool)
    mask[:, start:stop] = True
    return mask


def _rect(rows: slice, cols: slice, shape: tuple[int, int] = (10, 10)) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[rows, cols] = True
    return mask


# --- matching


def test_hungarian_pairs_both_lesions_where_the_best_pair_first_would_pair_one():
    b = [_strip(0, 10), _strip(4, 14)]
    a = [_strip(1, 11), _strip(0, 6)]
    # a0-b0: 9 / 11 = 0.818   a0-b1: 7 / 13 = 0.538
    # a1-b0: 6 / 10 = 0.600   a1-b1: 2 / 14 = 0.143 (no match)
    # best pair first takes a0-b0 and leaves a1 only b1 (0.143): one match;
    # the assignment a0-b1 + a1-b0 = 1.138 beats a0-b0 = 0.818: two matches
    assert match_lesions(a, b) == [(0, 1, pytest.approx(7 / 13)), (1, 0, pytest.approx(0.6))]


def test_pairs_that_cannot_match_do_not_outweigh_one_that_can():
    a = [_strip(0, 60), _strip(55, 100)]
    b = [_strip(0, 100), _strip(33, 60)]
    # a0-b0: 60 / 100 = 0.60   a0-b1: 27 / 60 = 0.45
    # a1-b0: 45 / 100 = 0.45   a1-b1: 5 / 67 = 0.075
    # by raw IoU a0-b1 + a1-b0 = 0.90 beats a0-b0 + a1-b1 = 0.675, and neither of those
    # two pairs matches; counting only pairs at or above 0.5, a0-b0 (0.60) is the one match
    assert match_lesions(a, b) == [(0, 0, pytest.approx(0.6))]


def test_an_iou_of_exactly_the_threshold_matches():
    # columns 0:6 and 2:8: intersection 4, union 8, IoU 0.5
    assert match_lesions([_strip(0, 6)], [_strip(2, 8)]) == [(0, 0, 0.5)]


def test_an_iou_just_below_the_threshold_does_not_match():
    # columns 0:6 and 2:9: intersection 4, union 9, IoU 0.444
    assert match_lesions([_strip(0, 6)], [_strip(2, 9)]) == []


def test_the_threshold_is_a_parameter():
    # IoU 4 / 9 = 0.444: a match at 0.4, none at the default 0.5
    assert match_lesions([_strip(0, 6)], [_strip(2, 9)], threshold=0.4) == [
        (0, 0, pytest.approx(4 / 9))
    ]


def test_matches_are_sorted_by_the_first_readers_index_and_unmatched_lesions_are_left_out():
    a = [_strip(50, 60), _strip(80, 90), _strip(0, 10)]
    b = [_strip(0, 10), _strip(50, 59), _strip(30, 40)]
    # a0-b1: 9 / 10; a2-b0: 10 / 10; a1 and b2 overlap nothing
    assert match_lesions(a, b) == [(0, 1, pytest.approx(0.9)), (2, 0, 1.0)]


def test_no_lesions_on_either_side_match_nothing():
    assert match_lesions([], [_strip(0, 10)]) == []
    assert match_lesions([_strip(0, 10)], []) == []
    assert match_lesions([], []) == []


def test_an_empty_mask_matches_nothing():
    empty = np.zeros((4, 100), dtype=bool)
    assert match_lesions([empty], [empty]) == []


def test_zero_one_masks_count_as_boolean():
    # uint8 0/1 masks: columns 0:6 and 2:8, IoU 4 / 8
    assert match_lesions([_strip(0, 6).astype(np.uint8)], [_strip(2, 8).astype(np.uint8)]) == [
        (0, 0, 0.5)
    ]


def test_masks_of_different_shapes_are_refused():
    with pytest.raises(ValueError, match="differ in shape"):
        match_lesions([_strip(0, 6)], [_strip(0, 6, cols=50)])


@pytest.mark.parametrize("threshold", [0.0, -0.1, 1.5])
def test_a_threshold_outside_zero_to_one_is_refused(threshold):
    with pytest.raises(ValueError, match="threshold"):
        match_lesions([_strip(0, 6)], [_strip(0, 6)], threshold=threshold)


# --- lesion agreement over images


def test_lesion_agreement_counts_f1_and_mean_dice_over_images():
    images = [
        # 4x4 and 4x3 at the corner: intersection 12, union 16, IoU 0.75;
        # Dice 2 * 12 / (16 + 12) = 6/7
        ([_rect(slice(0, 4), slice(0, 4))], [_rect(slice(0, 4), slice(0, 3))]),
        # 2x4 and 2x5: intersection 8, union 10, IoU 0.8; Dice 2 * 8 / (8 + 10) = 8/9;
        # A's second lesion has no partner
        (
            [_rect(slice(5, 7), slice(0, 4)), _rect(slice(0, 2), slice(8, 10))],
            [_rect(slice(5, 7), slice(0, 5))],
        ),
        # both readers call it negative
        ([], []),
        # only B marks a lesion
        ([], [_rect(slice(8, 10), slice(8, 10))]),
    ]
    # lesions 3 and 3, matched 2: F1 = 2 * 2 / (3 + 3) = 2/3
    # mean Dice (6/7 + 8/9) / 2 = (54/63 + 56/63) / 2 = 55/63
    assert lesion_agreement(images) == {
        "images": 4,
        "lesions_a": 3,
        "lesions_b": 3,
        "matched": 2,
        "f1": pytest.approx(2 / 3),
        "mean_dice": pytest.approx(55 / 63),
    }


def test_identical_reads_agree_fully():
    lesions = [_rect(slice(0, 3), slice(0, 3)), _rect(slice(5, 9), slice(5, 8))]
    assert lesion_agreement([(lesions, list(lesions))]) == {
        "images": 1,
        "lesions_a": 2,
        "lesions_b": 2,
        "matched": 2,
        "f1": 1.0,
        "mean_dice": 1.0,
    }


def test_images_without_lesions_agree_but_give_no_f1():
    assert lesion_agreement([([], []), ([], [])]) == {
        "images": 2,
        "lesions_a": 0,
        "lesions_b": 0,
        "matched": 0,
        "f1": None,
        "mean_dice": None,
    }


def test_negative_images_do_not_move_f1():
    one = ([_strip(0, 6)], [_strip(2, 8)])  # IoU 0.5: matched
    other = ([_strip(20, 30)], [])
    # F1 2 * 1 / (2 + 1) = 2/3 with or without the images neither reader marked
    assert lesion_agreement([one, other])["f1"] == pytest.approx(2 / 3)
    assert lesion_agreement([one, ([], []), other, ([], [])])["f1"] == pytest.approx(2 / 3)


def test_lesions_that_never_match_give_f1_zero_and_no_dice():
    # IoU 4 / 9 < 0.5
    assert lesion_agreement([([_strip(0, 6)], [_strip(2, 9)])]) == {
        "images": 1,
        "lesions_a": 1,
        "lesions_b": 1,
        "matched": 0,
        "f1": 0.0,
        "mean_dice": None,
    }


def test_no_images_give_no_figures():
    assert lesion_agreement([]) == {
        "images": 0,
        "lesions_a": 0,
        "lesions_b": 0,
        "matched": 0,
        "f1": None,
        "mean_dice": None,
    }


def test_lesion_agreement_passes_the_threshold_on():
    images = [([_strip(0, 6)], [_strip(2, 9)])]
    # IoU 4 / 9 matches at 0.4; Dice 2 * 4 / (6 + 7) = 8/13
    figures = lesion_agreement(images, threshold=0.4)
    assert figures["matched"] == 1
    assert figures["mean_dice"] == pytest.approx(8 / 13)


# --- masks from storage


def test_masks_from_rle_decode_stored_masks_as_boolean_arrays():
    first = _rect(slice(1, 4), slice(2, 7), shape=(6, 8))
    second = _rect(slice(0, 6), slice(7, 8), shape=(6, 8))
    decoded = masks_from_rle([encode_mask(first), encode_mask(second)])
    assert [m.dtype for m in decoded] == [np.bool_, np.bool_]
    assert np.array_equal(decoded[0], first)
    assert np.array_equal(decoded[1], second)
    assert masks_from_rle([]) == []


def test_a_box_covers_the_pixels_whose_centres_it_holds():
    # x 1..4, y 2..4: columns 1:4, rows 2:4
    assert np.array_equal(
        mask_from_box([1, 2, 3, 2], (5, 6)), _rect(slice(2, 4), slice(1, 4), shape=(5, 6))
    )
    # x 0.4..2.6 holds the centres 0.5, 1.5, 2.5; y 0.6..1.6 holds 1.5 only
    assert np.array_equal(
        mask_from_box([0.4, 0.6, 2.2, 1.0], (5, 6)), _rect(slice(1, 2), slice(0, 3), shape=(5, 6))
    )


def test_a_box_past_the_image_is_clipped():
    assert np.array_equal(
        mask_from_box([4, -2, 10, 4], (5, 6)), _rect(slice(0, 2), slice(4, 6), shape=(5, 6))
    )


def test_a_box_only_lesion_matches_a_drawn_one():
    drawn = _rect(slice(2, 6), slice(2, 6))
    boxed = mask_from_box([2, 2, 4, 3], (10, 10))  # rows 2:5: 12 of the 16 pixels, IoU 0.75
    assert match_lesions([drawn], [boxed]) == [(0, 0, 0.75)]


# --- Cohen's kappa


def test_cohen_kappa_of_the_textbook_two_by_two_table():
    # 50 items: both yes 20, A yes B no 5, A no B yes 10, both no 15
    a = [True] * 20 + [True] * 5 + [False] * 10 + [False] * 15
    b = [True] * 20 + [False] * 5 + [True] * 10 + [False] * 15
    # p_o = (20 + 15) / 50 = 0.7; A yes 25/50, B yes 30/50
    # p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5; kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_cohen_kappa_of_three_categories():
    a = ["x", "x", "y", "y", "z", "z"]
    b = ["x", "y", "y", "y", "z", "x"]
    # p_o = 4/6; A x2 y2 z2, B x2 y3 z1: p_e = (2*2 + 2*3 + 2*1) / 36 = 1/3
    # kappa = (2/3 - 1/3) / (1 - 1/3) = 0.5
    assert cohen_kappa(a, b) == pytest.approx(0.5)


def test_cohen_kappa_is_one_for_full_agreement_and_minus_one_for_full_disagreement():
    assert cohen_kappa([True, False, True], [True, False, True]) == 1.0
    # p_o = 0, p_e = 0.5 * 0.5 + 0.5 * 0.5 = 0.5: kappa = -0.5 / 0.5
    assert cohen_kappa([True, False], [False, True]) == -1.0


def test_cohen_kappa_is_zero_when_agreement_is_only_chance():
    # A always yes; B yes on 3 of 4: p_o = 3/4, p_e = 1 * 3/4 = 3/4, kappa = 0
    assert cohen_kappa([True] * 4, [True, True, True, False]) == 0.0


def test_cohen_kappa_is_undefined_when_both_readers_use_one_and_the_same_label():
    # p_o = p_e = 1: kappa = 0 / 0
    assert cohen_kappa([True] * 5, [True] * 5) is None


def test_cohen_kappa_of_readers_each_using_one_different_label_is_zero():
    # p_o = 0, p_e = 1 * 0 + 0 * 1 = 0
    assert cohen_kappa([True] * 3, [False] * 3) == 0.0


def test_cohen_kappa_of_no_items_is_none():
    assert cohen_kappa([], []) is None


def test_cohen_kappa_refuses_lists_of_different_lengths():
    with pytest.raises(ValueError, match="3 and 2"):
        cohen_kappa([True, False, True], [True, False])


# --- Fleiss' kappa

# Fleiss' kappa's usual worked example: 10 items, 14 raters, 5 categories; per item, how many
# raters chose each category.
WORKED_EXAMPLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_fleiss_kappa_of_the_worked_example():
    ratings = [
        [category for category, count in enumerate(row) for _ in range(count)]
        for row in WORKED_EXAMPLE
    ]
    # per item, sum of squared counts: 196 60 70 94 74 98 58 46 66 66, in all 828;
    # P = (828 - 10 * 14) / (10 * 14 * 13) = 688 / 1820 = 0.378
    # category totals 20 28 39 21 32 of 140: P_e = (400 + 784 + 1521 + 441 + 1024) / 140**2
    #   = 4170 / 19600 = 0.213
    # kappa = (0.378022 - 0.212755) / (1 - 0.212755) = 0.2099
    assert fleiss_kappa(ratings) == pytest.approx(0.2099, abs=1e-4)


def test_fleiss_kappa_of_two_raters_uses_the_pooled_label_shares():
    ratings = [[True, True], [True, False], [False, False], [False, False]]
    # P_i: 1, 0, 1, 1 (agreeing pairs of the one pair): P = 3/4
    # yes 3 of 8, no 5 of 8: P_e = 9/64 + 25/64 = 34/64
    # kappa = (48/64 - 34/64) / (30/64) = 14/30 = 7/15
    assert fleiss_kappa(ratings) == pytest.approx(7 / 15)


def test_fleiss_kappa_is_one_when_every_item_is_rated_alike():
    assert fleiss_kappa([["a", "a", "a"], ["b", "b", "b"], ["a", "a", "a"]]) == 1.0


def test_fleiss_kappa_is_undefined_when_every_rating_is_one_label():
    assert fleiss_kappa([["a", "a", "a"], ["a", "a", "a"]]) is None


def test_fleiss_kappa_of_no_items_is_none():
    assert fleiss_kappa([]) is None


def test_fleiss_kappa_refuses_items_with_different_numbers_of_raters():
    with pytest.raises(ValueError, match="item 0 has 3, item 2 has 2"):
        fleiss_kappa([["a", "b", "a"], ["a", "a", "b"], ["a", "b"]])


def test_fleiss_kappa_refuses_items_with_one_rater():
    with pytest.raises(ValueError, match="at least two"):
        fleiss_kappa([["a"], ["b"]])
