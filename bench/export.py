"""COCO export benchmark: JSON time for 1,000 images / 2,800 shapes and 10,000 images / 30,000
masks (seconds, peak memory), and PNG rendering rate into the zip.

Rows are made with bulk_create in a scratch PostgreSQL database (not through ingest), then the
export's own writer runs on them. Run:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/radlabel .venv/bin/python bench/export.py

Targets: <= 0.5 s for the 1,000-image JSON; <= 20 s and <= 500 MB for 10,000 images.
"""

from __future__ import annotations

import io
import os
import resource
import tempfile
import time
import uuid
import zipfile
from multiprocessing import get_context

from _django import django_setup, scratch_database

SCRATCH = "radlabel_bench_export"


def _setup() -> None:
    scratch_database(SCRATCH)
    scratch = tempfile.mkdtemp(prefix="radlabel-bench-export-")
    os.environ.setdefault("RADLABEL_VAR_DIR", os.path.join(scratch, "var"))
    os.environ.setdefault("RADLABEL_MEDIA_ROOT", os.path.join(scratch, "media"))
    django_setup(settings="backend.settings.test", migrate=True)


def _masks(count: int, size: int):
    import numpy as np

    from annotator import coco

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    masks = []
    for _ in range(count):
        cy, cx = rng.integers(size // 4, 3 * size // 4, 2)
        ry, rx = rng.integers(4, size // 8, 2)
        mask = (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1).astype(np.uint8)
        rle = coco.encode_mask(mask)
        masks.append((rle, coco.bbox_of_mask(rle)))
    return masks


def build(slug: str, images: int, shapes: int, *, with_masks: bool, size: int = 512):
    """A project with ``images`` images over 10 patients each, and ``shapes`` labels."""
    from annotator import models

    project = models.Project.objects.create(slug=slug, name=slug)
    classes = [
        models.LabelClass.objects.create(project=project, name=n, color="#ff0000", order=i)
        for i, n in enumerate(("nodule", "mass", "effusion"))
    ]
    tag = models.LabelClass.objects.create(
        project=project, name="normal", color="#00ff00", kind="tag"
    )
    splits = ["train"] * 7 + ["val"] * 2 + ["test"]
    patients = models.Patient.objects.bulk_create(
        models.Patient(project=project, pseudonym=f"P-{slug}-{i:06d}", split=splits[i % 10])
        for i in range(max(1, images // 10))
    )
    studies = models.Study.objects.bulk_create(
        models.Study(project=project, patient=p, study_uid=f"2.25.1{i}{abs(hash(slug)) % 1000}")
        for i, p in enumerate(patients)
    )
    series = models.Series.objects.bulk_create(
        models.Series(study=s, series_uid=f"2.25.2{i}", modality="CT", series_number=1)
        for i, s in enumerate(studies)
    )
    instances = models.Instance.objects.bulk_create(
        (
            models.Instance(
                project=project,
                series=series[i % len(series)],
                sop_uid=f"2.25.3{i}{abs(hash(slug)) % 1000}",
                sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
                transfer_syntax_uid="1.2.840.10008.1.2.1",
                instance_number=i,
                file=f"projects/x/{i}.dcm",
                sha256="0" * 64,
                size=1,
            )
            for i in range(images)
        ),
        batch_size=5000,
    )
    rows = models.Image.objects.bulk_create(
        (
            models.Image(
                project=project,
                series=instance.series,
                instance=instance,
                rows=size,
                columns=size,
                pixel_spacing_row=0.7,
                pixel_spacing_col=0.7,
                photometric="MONOCHROME2",
                window_center=40,
                window_width=400,
                preview="none.png",
            )
            for instance in instances
        ),
        batch_size=5000,
    )
    models.Image.tags.through.objects.bulk_create(
        (models.Image.tags.through(image_id=image.pk, labelclass_id=tag.pk) for image in rows[::7]),
        batch_size=5000,
    )
    masks = _masks(200, size) if with_masks else []
    models.Annotation.objects.bulk_create(
        (
            models.Annotation(
                project=project,
                image=rows[n % len(rows)],
                label_class=classes[n % 3],
                client_key=uuid.uuid4(),
                box_x=(masks[n % len(masks)][1][0] if masks else 10.0),
                box_y=(masks[n % len(masks)][1][1] if masks else 12.0),
                box_w=(masks[n % len(masks)][1][2] if masks else 30.0),
                box_h=(masks[n % len(masks)][1][3] if masks else 25.0),
                mask=masks[n % len(masks)][0] if masks and (with_masks or n % 2) else None,
                source="human",
                status="accepted",
            )
            for n in range(shapes)
        ),
        batch_size=5000,
    )
    return project


def _export_json(project_id: int, queue) -> None:
    from django.db import connection

    from annotator.models import Project
    from annotator.services import coco_export

    connection.close()
    project = Project.objects.get(pk=project_id)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    options = coco_export.export_options_validate(
        project=project, options={"image_format": "none", "images": "all"}
    )
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        buffer = io.BytesIO()
        summary = coco_export.write_export_zip(project=project, options=options, target=buffer)
        sink.write(buffer.getbuffer())
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((seconds, before / 1024, peak / 1024, len(buffer.getvalue()), summary))


def measure_json(project) -> tuple[float, float, float, int, dict]:
    """Run the export in a fresh process so its peak RSS is the export's own."""
    from django.db import connection

    connection.close()
    context = get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_export_json, args=(project.pk, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def measure_rendering(count: int = 40) -> tuple[float, int]:
    """PNG rendering rate: real 512x512 CT slices ingested, exported as full-size PNGs."""
    import pydicom
    import pydicom.uid

    from annotator.models import Project
    from annotator.services import coco_export, studies
    from tests.dicom_files import data_store

    project = Project.objects.create(slug="render", name="render")
    source = pydicom.dcmread(data_store("693_UNCI.dcm"))
    for n in range(count):
        ds = source.copy()
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        outcome = studies.instance_ingest(project=project, name=f"{n}", data=buffer.getvalue())
        assert outcome.code == "stored", outcome.as_dict()
    options = coco_export.export_options_validate(project=project, options={"images": "all"})
    started = time.perf_counter()
    buffer = io.BytesIO()
    coco_export.write_export_zip(project=project, options=options, target=buffer)
    seconds = time.perf_counter() - started
    pngs = [n for n in zipfile.ZipFile(buffer).namelist() if n.endswith(".png")]
    assert len(pngs) == count, len(pngs)
    return count / seconds, len(buffer.getvalue())


def main() -> None:
    _setup()
    print("command: DATABASE_URL=... .venv/bin/python bench/export.py")
    print(f"scratch database: {SCRATCH}")

    small = build("small", 1_000, 2_800, with_masks=True)
    seconds, _, peak, size, summary = measure_json(small)
    print(
        f"1,000 images / 2,800 shapes: JSON export {seconds:.3f} s "
        f"(target <= 0.5 s), zip {size / 1e6:.1f} MB, "
        f"{sum(s['annotations'] for s in summary['splits'].values())} annotations"
    )

    started = time.perf_counter()
    large = build("large", 10_000, 30_000, with_masks=True)
    built = time.perf_counter() - started
    print(f"(built 10,000 images / 30,000 masks with bulk_create in {built:.1f} s)")
    seconds, before, peak, size, summary = measure_json(large)
    print(
        f"10,000 images / 30,000 masks: JSON export {seconds:.2f} s (target <= 20 s), "
        f"peak RSS {peak:.0f} MB (process started at {before:.0f} MB; target <= 500 MB), "
        f"zip {size / 1e6:.1f} MB, {sum(s['masks'] for s in summary['splits'].values())} masks"
    )

    rate, size = measure_rendering()
    print(f"rendering: {rate:.1f} images/s into the zip (512x512 CT, 8-bit PNG, one process)")


if __name__ == "__main__":
    main()
