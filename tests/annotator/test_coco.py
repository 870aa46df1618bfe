"""The pure COCO helpers: RLE strings are checked before pycocotools sees them; polygons are
traced outlines that plain rasterisers turn back into the mask."""

import cv2
import numpy as np
import pydicom
from PIL import Image, ImageDraw
from pydicom.pixels import apply_modality_lut

from annotator import coco
from tests.dicom_files import data_store


def _counts(mask: np.ndarray) -> str:
    return coco.encode_mask(mask)["counts"]


def test_a_real_rle_adds_up_to_the_image():
    mask = np.zeros((64, 48), np.uint8)
    mask[5:30, 7:40] = 1
    mask[50:60, 1:3] = 1
    assert coco.rle_counts_total(_counts(mask), max_total=64 * 48) == 64 * 48


def test_runs_past_the_image_are_refused():
    mask = np.ones((64, 64), np.uint8)
    assert coco.rle_counts_total(_counts(mask), max_total=32 * 32) is None


def test_a_run_longer_than_any_pixel_count_is_refused_at_once():
    # continuation characters without end: the old check built an ever larger integer
    # (quadratic: 320 k characters took 1.6 s); a run needs at most 7 characters
    assert coco.rle_counts_total("P" * 1_500_000, max_total=512 * 512) is None
    assert coco.rle_counts_total("P" * 8 + "0", max_total=2**31) is None


def test_a_string_longer_than_the_image_allows_is_refused_before_it_is_read():
    assert coco.rle_counts_total("0" * (7 * 17 + 1), max_total=16) is None


def test_polygons_beyond_the_image_are_refused_before_rasterising(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("rasterised")

    monkeypatch.setattr(coco.mask_utils, "frPyObjects", never)
    for polygon in (
        [0, 0, 4e7, 0, 4e7, 4e7],
        [0, 0, 10, 0, 10, -4e7],
        [-0.5, 0, 10, 0, 10, 10],
        [0, 0, 64.5, 0, 64, 32],
        [0, 0, 10, 0, 10, 32.01],
    ):
        assert coco.segmentation_to_rle([polygon], 32, 64) is None, polygon


def test_a_polygon_on_the_image_edges_is_rasterised():
    mask = coco.segmentation_to_rle([[0, 0, 64, 0, 64, 32, 0, 32]], 32, 64)
    assert coco.mask_area(mask) == 32 * 64


def test_suppression_across_classes_keeps_the_best_and_lists_the_others_once():
    box = {"box": [0, 0, 10, 10], "mask": None}
    kept = coco.suppress_across_classes(
        [
            {**box, "label_class": 1, "score": 0.4},
            {**box, "label_class": 2, "score": 0.9},
            {**box, "label_class": 1, "score": 0.7},
            {"box": [50, 50, 10, 10], "mask": None, "label_class": 3, "score": 0.2},
        ],
        rows=64,
        cols=64,
    )
    assert [(k["label_class"], k["alternatives"]) for k in kept] == [
        (2, [{"label_class": 1, "score": 0.7}]),
        (3, []),
    ]


def _lesions(rows, cols, seed, count):
    """``count`` lobulated lesions with ragged edges, 1 to ~25 pixels across, some touching
    only at a corner, and a lone pixel."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:rows, :cols]
    mask = np.zeros((rows, cols), bool)
    for _ in range(count):
        cy, cx = rng.integers(15, rows - 15), rng.integers(15, cols - 15)
        radius = rng.uniform(1.5, 12)
        angle = np.arctan2(yy - cy, xx - cx)
        outline = radius * (1 + 0.3 * np.sin(rng.integers(2, 6) * angle + rng.uniform(0, 6)))
        ragged = rng.uniform(-1, 1, 48)[((angle + np.pi) / (2 * np.pi) * 47).astype(int)]
        lesion = np.hypot(yy - cy, xx - cx) <= outline + ragged
        mask |= lesion
    mask[3, 3] = True
    mask[5, 5] = mask[6, 6] = True  # two pixels touching at a corner: one component
    return mask


def _real_regions():
    """Lesion-sized connected regions (30 to 3000 pixels) of a real CT slice: bone, air and
    soft tissue by their HU ranges."""
    ds = pydicom.dcmread(data_store("693_UNCI.dcm"))
    hu = apply_modality_lut(ds.pixel_array, ds)
    for low, high in ((300, 5000), (-900, -400), (20, 80)):
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            ((hu > low) & (hu < high)).astype(np.uint8), connectivity=8
        )
        for label in range(1, count):
            if 30 <= stats[label, cv2.CC_STAT_AREA] <= 3000:
                yield labels == label


def _components(mask):
    return cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] - 1


def _filled(mask):
    """The mask with its holes filled: everything the background outside cannot reach."""
    outside = np.pad(~mask, 1, constant_values=True).astype(np.uint8)
    cv2.floodFill(outside, None, (0, 0), 2)
    return outside[1:-1, 1:-1] != 2


def _pil(polygons, rows, cols):
    image = Image.new("L", (cols, rows))
    draw = ImageDraw.Draw(image)
    for polygon in polygons:
        draw.polygon(polygon, fill=1)
    return np.asarray(image).astype(bool)


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def _rasterised(mask):
    """The mask's polygons drawn with PIL ImageDraw and with pycocotools: each of their IoUs
    with the mask, after checking the polygons' shape and that they fill its holes."""
    polygons, holes_filled = coco.rle_to_polygons(coco.encode_mask(mask))
    assert len(polygons) == _components(mask), "one polygon per connected component"
    assert all(len(p) >= 6 and len(p) % 2 == 0 for p in polygons)
    filled = _filled(mask)
    assert holes_filled == (not np.array_equal(filled, mask))
    rows, cols = mask.shape
    rasters = (
        _pil(polygons, rows, cols),
        coco.decode_mask(coco.polygons_to_rle(polygons, rows, cols)).astype(bool),
    )
    for raster in rasters:
        assert _iou(raster, filled) >= 0.95, "the outline, holes filled"
    return [_iou(raster, mask) for raster in rasters], holes_filled


def test_polygons_of_synthetic_lesions_rasterise_back_into_their_masks():
    for seed in range(8):
        ious, _ = _rasterised(_lesions(96, 128, seed, count=6))
        assert min(ious) >= 0.95, (seed, ious)


def test_polygons_of_real_regions_rasterise_back_into_their_masks():
    without_holes = [ious for ious, holes in map(_rasterised, _real_regions()) if not holes]
    assert len(without_holes) >= 20
    assert min(min(ious) for ious in without_holes) >= 0.95


def test_a_mask_with_a_hole_is_its_outline_filled_and_says_so():
    yy, xx = np.mgrid[:64, :64]
    ring = (np.hypot(yy - 32, xx - 32) <= 20) & (np.hypot(yy - 32, xx - 32) > 8)
    polygons, holes_filled = coco.rle_to_polygons(coco.encode_mask(ring))
    assert holes_filled and len(polygons) == 1
    assert np.array_equal(_pil(polygons, 64, 64), np.hypot(yy - 32, xx - 32) <= 20)
    assert coco.rle_to_polygons(coco.encode_mask(np.zeros((8, 8), bool))) == ([], False)
