"""The export's PNGs, made by threads or taken from the stored previews, are the image rendered
plainly from its stored DICOM file, pixel for pixel."""

import io
import zipfile

import numpy as np
import pydicom
import pytest
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from annotator import dicom
from annotator.models import Image
from annotator.services import coco_export, studies
from tests.dicom_files import data_store

SOURCES = (
    "693_UNCI.dcm",  # CT 512 x 512: its preview is full size
    "MR2_UNCI.dcm",  # MR 512 x 512
    "RG1_UNCI.dcm",  # MONOCHROME1 CR 1841 x 1955: its preview is shrunk
    "OBXXXX1A.dcm",  # colour
    "eCT_Supplemental.dcm",  # enhanced CT, two frames
    "emri_small.dcm",  # MR 64 x 64, ten frames
)


@pytest.fixture
def images(world):
    stored = []
    for name in SOURCES:
        [outcome] = studies.upload_ingest(
            project=world.project,
            actor=None,
            files=[(name, io.BytesIO(data_store(name).read_bytes()))],
        )
        assert outcome.ok, outcome.as_dict()
        stored.extend(outcome.image_ids)
    studies.image_previews_render(image_ids=stored)  # the cpu task an upload sends
    Image.objects.filter(pk__in=stored).update(quarantined=False)
    return list(Image.objects.filter(pk__in=stored).select_related("instance").order_by("id"))


def _export(project, **options) -> zipfile.ZipFile:
    options = coco_export.export_options_validate(project=project, options=options)
    buffer = io.BytesIO()
    coco_export.write_export_zip(project=project, options=options, target=buffer)
    return zipfile.ZipFile(buffer)


def _pngs(archive: zipfile.ZipFile) -> dict[int, bytes]:
    return {
        int(name.rsplit("/", 1)[1].removesuffix(".png")): archive.read(name)
        for name in archive.namelist()
        if name.startswith("images/")
    }


def _plain(image: Image, window) -> PILImage.Image:
    """The image rendered on its own from its stored file, at full size."""
    with default_storage.open(image.instance.file, "rb") as stream:
        dataset = pydicom.dcmread(stream)
    pixels = dicom.frame_pixels(dataset, image.frame_number - 1)
    png = dicom.render_preview(pixels, window, max_side=max(pixels.shape[:2]))
    return PILImage.open(io.BytesIO(png))


def _assert_same_pixels(png: bytes, expected: PILImage.Image, what) -> None:
    exported = PILImage.open(io.BytesIO(png))
    assert (exported.mode, exported.size) == (expected.mode, expected.size), what
    assert np.array_equal(np.asarray(exported), np.asarray(expected)), what


def _default_window(image: Image):
    if image.window_center is None:
        return None
    return (image.window_center, image.window_width)


def test_exported_pngs_are_the_plain_render_pixel_for_pixel(world, images):
    assert len(images) > len(SOURCES), "multi-frame instances give several images"
    pngs = _pngs(_export(world.project, images="all"))
    assert set(pngs) == {image.pk for image in images}
    full_size_previews = 0
    for image in images:
        _assert_same_pixels(pngs[image.pk], _plain(image, _default_window(image)), image.pk)
        preview = PILImage.open(default_storage.open(image.preview, "rb"))
        if preview.size == (image.columns, image.rows):
            full_size_previews += 1
            with default_storage.open(image.preview, "rb") as stream:
                assert pngs[image.pk] == stream.read(), "the viewer's preview is the exported PNG"
    assert 0 < full_size_previews < len(images), "some previews are shrunk, some are not"

    fixed = _pngs(_export(world.project, images="all", window=[100, 700]))
    for image in images:
        window = (100.0, 700.0) if image.window_center is not None else None
        _assert_same_pixels(fixed[image.pk], _plain(image, window), (image.pk, "fixed window"))


def test_an_image_without_its_preview_is_rendered(world, images):
    """Previews may come after the image (or be lost): the export then renders the image."""
    ct, mr = images[0], images[1]
    default_storage.delete(ct.preview)
    Image.objects.filter(pk=mr.pk).update(preview="")
    pngs = _pngs(_export(world.project, images="all"))
    for image in (ct, mr):
        _assert_same_pixels(pngs[image.pk], _plain(image, _default_window(image)), image.pk)
