"""Local seed for the browser tests and the viewer benchmark (not used in production).

Run inside Django (from the repository root):
    .venv/bin/python manage.py shell < frontend/e2e/seed_local.py

Adds, to the project named by RADLABEL_PROJECT (default "demo"):
  * a 100-slice CT series made from the demo's real 512² CT slice (new UIDs, positions), for
    the scroll benchmark;
  * model proposals (boxes + COCO RLE masks, scores) on every single-frame image of the project,
    and 50 proposals on one CT slice (the "50 masks" benchmark image).
Idempotent: proposals are replaced through the same service the worker uses.
"""

import io
import os

import numpy as np
import pydicom
from pycocotools import mask as mask_utils
from pydicom.uid import generate_uid

from annotator.management.commands.seed_demo import demo_data_folder
from annotator.models import Image, LabelClass, Project
from annotator.services.annotations import proposals_replace
from annotator.services.studies import upload_ingest

slug = os.environ.get("RADLABEL_PROJECT", "demo")
project = Project.objects.get(slug=slug)
classes = list(LabelClass.objects.filter(project=project, kind="instance").order_by("id"))

BENCH_DESCRIPTION = "RadLabel bench series"
if not Image.objects.filter(project=project, series__series_number=9100).exists():
    source = pydicom.dcmread(demo_data_folder() / "693_UNCI.dcm")
    series_uid = generate_uid()
    files = []
    for i in range(100):
        ds = source.copy()
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesNumber = 9100
        ds.SeriesDescription = BENCH_DESCRIPTION
        ds.InstanceNumber = i + 1
        pos = [float(v) for v in ds.get("ImagePositionPatient", [0, 0, 0])]
        ds.ImagePositionPatient = [pos[0], pos[1], pos[2] + 2.5 * i]
        ds.SliceLocation = pos[2] + 2.5 * i
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        buf.seek(0)
        files.append((f"bench_{i:03d}.dcm", buf))
    outcomes = upload_ingest(project=project, actor=None, files=files)
    print("bench series:", sum(o.code == "stored" for o in outcomes), "slices stored")


def disc(h, w, cy, cx, r):
    yy, xx = np.mgrid[0:h, 0:w]
    return ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(np.uint8)


def proposal(image, cy, cx, r, cls, score):
    m = disc(image.rows, image.columns, cy, cx, r)
    rle = mask_utils.encode(np.asfortranarray(m))
    x, y, w, h = mask_utils.toBbox(rle).tolist()
    return {
        "label_class": cls.id,
        "box": [x, y, w, h],
        "mask": {"size": [image.rows, image.columns], "counts": rle["counts"].decode()},
        "score": score,
    }


rng = np.random.default_rng(7)
bench_images = list(
    Image.objects.filter(project=project, series__series_number=9100).order_by("instance__instance_number")
)
fifty = bench_images[50] if bench_images else None
for image in Image.objects.filter(project=project).order_by("id"):
    if image.frame_number != 1 and image != fifty:
        continue
    if image in bench_images and image != fifty and image != bench_images[0]:
        continue
    h, w = image.rows, image.columns
    if image == fifty:
        specs = [
            proposal(image, rng.uniform(40, h - 40), rng.uniform(40, w - 40), rng.uniform(6, 30),
                     classes[i % len(classes)], float(rng.uniform(0.3, 0.99)))
            for i in range(50)
        ]
    else:
        specs = [
            proposal(image, h * 0.40, w * 0.30, min(h, w) * 0.06, classes[0], 0.93),
            proposal(image, h * 0.55, w * 0.68, min(h, w) * 0.05, classes[-1], 0.71),
            proposal(image, h * 0.70, w * 0.45, min(h, w) * 0.04, classes[0], 0.42),
        ]
    proposals_replace(image=image, proposals=specs, uncertainty=float(rng.uniform(0, 1)))
print("proposals seeded; 50-mask image:", fifty.pk if fifty else None)
