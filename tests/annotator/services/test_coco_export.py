"""COCO export: pycocotools loads it, evaluates it against itself at AP 1.0, masks decode to the
stored pixels, images are full resolution, filters hold, negatives are told from unlabelled
images, quarantined images and PHI never leave."""

import hashlib
import io
import json
import uuid
import zipfile
from datetime import timedelta

import numpy as np
import pydicom
import pytest
from django.utils import timezone
from PIL import Image as PILImage
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from pydicom.pixels import apply_modality_lut, pixel_array

from annotator import coco
from annotator.exceptions import ApplicationError
from annotator.models import Annotation, ExportJob, Image, JobStatus, Patient
from annotator.services import annotations, coco_export, jobs, studies
from tests import factories
from tests.annotator.dicom.phi import SENTINELS, build_phi_dataset, load_source
from tests.dicom_files import data_store, pydicom_test_file


def _ingest(project, name, data):
    [outcome] = studies.upload_ingest(project=project, actor=None, files=[(name, io.BytesIO(data))])
    assert outcome.ok, outcome.as_dict()
    return list(Image.objects.filter(pk__in=outcome.image_ids).order_by("frame_number"))


def _blob(rows, cols, seed):
    rng = np.random.default_rng(seed)
    cy, cx = rng.integers(rows // 4, 3 * rows // 4), rng.integers(cols // 4, 3 * cols // 4)
    ry, rx = rng.integers(3, rows // 6), rng.integers(3, cols // 6)
    yy, xx = np.mgrid[:rows, :cols]
    mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    mask[cy, :] |= rng.random(cols) < 0.3  # ragged edge: not a smooth shape
    return mask.astype(np.uint8)


def _label(image, actor, label_class, seed, *, with_mask=True, status="accepted"):
    mask = _blob(image.rows, image.columns, seed) if with_mask else None
    if mask is not None:
        box = coco.bbox_of_mask(coco.encode_mask(mask))
    else:
        box = [2.0, 3.0, image.columns / 3, image.rows / 4]
    annotation, _ = annotations.annotation_create(
        image=image,
        actor=actor,
        client_key=uuid.uuid4(),
        label_class=label_class.pk,
        box=box,
        mask=coco.encode_mask(mask) if mask is not None else None,
        status=status,
    )
    return annotation


def _mark(image, actor, status):
    annotations.image_set_status(image=image, actor=actor, status=status, role="admin")


@pytest.fixture
def dataset(world):
    """Real CT, MR and multi-frame MR slices, a quarantined US, labels of two classes and a tag.

    The labelled CT, MR and MR frames 2 and 4 are done (the MR reviewed); MR frame 5 is done with
    no label (a confirmed negative), frame 3 has a label but is still in progress, frame 6 has
    only a model's proposal and frame 1 nothing."""
    project = world.project
    second = factories.LabelClassFactory(project=project, name="mass", order=1)
    ct = _ingest(project, "ct.dcm", data_store("693_UNCI.dcm").read_bytes())[0]
    small = _ingest(project, "ct_small.dcm", pydicom_test_file("CT_small.dcm").read_bytes())[0]
    frames = _ingest(project, "emri.dcm", data_store("emri_small.dcm").read_bytes())
    us = _ingest(project, "us.dcm", data_store("US1_UNCI.dcm").read_bytes())[0]
    assert us.quarantined and len(frames) > 1
    for image, split in ((ct, "train"), (small, "val"), (frames[0], "test")):
        Patient.objects.filter(pk=image.series.study.patient_id).update(split=split)
    labelled = {
        "ct": [
            _label(ct, world.admin, world.instance_class, 1),
            _label(ct, world.admin, second, 2),
            _label(ct, world.admin, world.instance_class, 3, with_mask=False),
        ],
        "small": [_label(small, world.admin, second, 4)],
        "frame2": [_label(frames[1], world.admin, world.instance_class, 5)],
        "frame4": [_label(frames[3], world.admin, world.instance_class, 6)],
    }
    proposal = _label(ct, world.admin, second, 7, status="proposed")
    _label(us, world.admin, world.instance_class, 8)
    annotations.image_set_tags(image=small, actor=world.admin, label_class_ids=[world.tag_class.pk])
    in_progress = _label(frames[2], world.admin, world.instance_class, 10)
    annotations.proposals_replace(
        image=frames[5],
        model_version=None,
        proposals=[
            {
                **coco.box_and_mask(_blob(frames[5].rows, frames[5].columns, 11)),
                "label_class": second.pk,
                "score": 0.9,
            }
        ],
    )
    for image in (ct, small, frames[1], frames[3], frames[4]):
        _mark(image, world.admin, "done")
    _mark(small, world.admin, "reviewed")
    return {
        "project": project,
        "ct": ct,
        "small": small,
        "frames": frames,
        "us": us,
        "second": second,
        "labelled": labelled,
        "proposal": proposal,
        "in_progress": in_progress,
    }


def _export(project, **options):
    buffer = io.BytesIO()
    clean = coco_export.export_options_validate(project=project, options=options)
    summary = coco_export.write_export_zip(project=project, options=clean, target=buffer)
    return zipfile.ZipFile(io.BytesIO(buffer.getvalue())), summary


def _instances(archive, split):
    return json.loads(archive.read(coco.instances_path(split)))


def test_pycocotools_loads_every_file_and_scores_it_against_itself_at_ap_one(
    dataset, tmp_path, capsys
):
    archive, summary = _export(dataset["project"])
    evaluated = 0
    for split in coco.SPLITS:
        path = tmp_path / f"{split}.json"
        path.write_bytes(archive.read(coco.instances_path(split)))
        ground_truth = COCO(str(path))
        if not ground_truth.getAnnIds():
            continue
        for kind in ("bbox", "segm"):
            detections = ground_truth.loadRes(
                [{**a, "score": 1.0} for a in ground_truth.loadAnns(ground_truth.getAnnIds())]
            )
            evaluation = COCOeval(ground_truth, detections, kind)
            evaluation.evaluate()
            evaluation.accumulate()
            evaluation.summarize()
            assert evaluation.stats[0] == pytest.approx(1.0), (split, kind)
            evaluated += 1
    assert evaluated == 6
    assert summary["splits"]["train"]["annotations"] == 3


@pytest.mark.parametrize("segmentation", ["rle", "polygon"])
def test_every_exported_mask_decodes_to_the_stored_mask(dataset, segmentation):
    archive, _ = _export(dataset["project"], segmentation=segmentation, image_format="none")
    seen = 0
    for split in coco.SPLITS:
        document = _instances(archive, split)
        sizes = {i["id"]: (i["height"], i["width"]) for i in document["images"]}
        for entry in document["annotations"]:
            stored = Annotation.objects.get(pk=entry["id"])
            assert entry["bbox"] == pytest.approx(stored.box, abs=1e-3)
            if stored.mask is None:
                assert entry["has_mask"] is False
                continue
            rows, cols = sizes[entry["image_id"]]
            if segmentation == "polygon":
                assert isinstance(entry["segmentation"], list)
                decoded = coco.decode_mask(coco.polygons_to_rle(entry["segmentation"], rows, cols))
            else:
                decoded = coco.decode_mask(entry["segmentation"])
            assert np.array_equal(decoded, coco.decode_mask(stored.mask))
            assert entry["area"] == int(coco.decode_mask(stored.mask).sum())
            seen += 1
    assert seen == 5


def test_layout_metadata_tags_and_unlabelled_images(dataset):
    archive, summary = _export(dataset["project"], images="all")
    names = set(archive.namelist())
    assert {coco.instances_path(s) for s in coco.SPLITS} | {"manifest.json"} <= names
    train, val, test = (_instances(archive, s) for s in coco.SPLITS)
    assert [c["name"] for c in train["categories"]] == ["nodule", "mass"]
    assert [c["id"] for c in train["categories"]] == [1, 2]
    frames = dataset["frames"]
    test_ids = {i["id"] for i in test["images"]}
    assert {f.pk for f in frames} <= test_ids, "every frame is listed, labelled or not"
    unlabelled = frames[0].pk
    assert not [a for a in test["annotations"] if a["image_id"] == unlabelled]
    [small] = val["images"]
    assert small["tags"] == ["normal"]
    assert small["file_name"] == f"images/val/{small['id']}.png"
    assert small["patient"].startswith("P-") and small["study_uid"].startswith("2.25.")
    assert small["modality"] == "CT" and small["split"] == "val"
    assert small["pixel_spacing"] and small["sop_instance_uid"].startswith("2.25.")
    assert small["labelling_status"] == "reviewed" and small["person_labelled"] is True
    by_id = {i["id"]: i for i in test["images"]}
    assert [(by_id[f.pk]["labelling_status"], by_id[f.pk]["person_labelled"]) for f in frames] == [
        ("unlabelled", False),
        ("done", True),
        ("in_progress", True),
        ("done", True),
        ("done", True),
        ("proposed", False),
    ] + [("unlabelled", False)] * (len(frames) - 6)
    assert dataset["in_progress"].pk in {a["id"] for a in test["annotations"]}
    all_images = {i["id"] for d in (train, val, test) for i in d["images"]}
    assert dataset["us"].pk not in all_images, "quarantined images never leave"
    assert all(
        f"images/{s}/{i['id']}.png" in names
        for s, d in zip(coco.SPLITS, (train, val, test), strict=True)
        for i in d["images"]
    )
    assert not [n for n in names if n.startswith("images/") and str(dataset["us"].pk) + ".png" in n]
    manifest = json.loads(archive.read("manifest.json"))
    assert (
        "Basic Application Level Confidentiality Profile" in manifest["deidentification"]["profile"]
    )
    assert manifest["deidentification"]["edition"] == "DICOM PS3.15 2024c"
    assert "DICOM PS3.15 2024c" in manifest["deidentification"]["method"]
    assert manifest["options"]["include_proposals"] is False
    assert manifest["images"]["rule"] == "all" and manifest["options"]["images"] == "all"
    assert test["info"]["images"].startswith("all: every image")
    assert summary["splits"]["test"]["images_left_out"] == 0
    assert manifest["summary"] == json.loads(json.dumps(summary))


def test_by_default_only_images_a_person_marked_done_leave_with_their_labels(world, dataset):
    """A trainer reads an image without annotations as "no finding": only images a person
    finished are exported unless asked, so a slice with unreviewed proposals or labels in
    progress is never taken for a negative."""
    frames = dataset["frames"]
    archive, summary = _export(dataset["project"], image_format="none")
    test = _instances(archive, "test")
    assert [i["id"] for i in test["images"]] == [frames[1].pk, frames[3].pk, frames[4].pk]
    assert {i["labelling_status"] for i in test["images"]} == {"done"}
    assert all(i["person_labelled"] for i in test["images"])
    negative = frames[4].pk
    assert not [a for a in test["annotations"] if a["image_id"] == negative], "confirmed negative"
    exported = {a["id"] for a in test["annotations"]}
    assert exported == {dataset["labelled"]["frame2"][0].pk, dataset["labelled"]["frame4"][0].pk}
    assert summary["splits"]["test"]["images_left_out"] == len(frames) - 3
    [small] = _instances(archive, "val")["images"]
    assert small["labelling_status"] == "reviewed" and small["tags"] == ["normal"]
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["images"]["rule"] == "done" and manifest["options"]["images"] == "done"
    assert "confirmed negative" in manifest["images"]["description"]
    assert test["info"]["images"].startswith("done: only images a person marked done")

    _mark(frames[4], world.admin, "in_progress")
    reopened, _ = _export(dataset["project"], image_format="none")
    assert frames[4].pk not in {i["id"] for i in _instances(reopened, "test")["images"]}


def test_a_reviewed_only_export_holds_the_images_a_second_reader_accepted(world, dataset):
    archive, summary = _export(dataset["project"], image_format="none", images="reviewed")
    exported = {s: [i["id"] for i in _instances(archive, s)["images"]] for s in coco.SPLITS}
    assert exported == {"train": [], "val": [dataset["small"].pk], "test": []}
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["images"]["rule"] == "reviewed"
    assert "accepted in review" in manifest["images"]["description"]
    with pytest.raises(ApplicationError, match="'done', 'reviewed' or 'all'"):
        coco_export.export_options_validate(project=dataset["project"], options={"images": "x"})


def test_an_export_with_reads_carries_each_readers_submission_under_a_pseudonym(world, dataset):
    """The small CT was marked done by the admin (a read) before it was reviewed; a second
    reader's later submission of an MR frame is listed beside the first reader's."""
    frames, small = dataset["frames"], dataset["small"]
    second = factories.UserFactory(username="second-reader-name")
    _mark(frames[1], world.admin, "in_progress")
    _mark(frames[1], second, "done")
    archive, _ = _export(dataset["project"], image_format="none", include_reads=True)
    val = {i["id"]: i for i in _instances(archive, "val")["images"]}
    test = {i["id"]: i for i in _instances(archive, "test")["images"]}
    [read] = val[small.pk]["reads"]
    assert read["reader"] == "reader-1" and read["tags"] == ["normal"]
    assert [r["reader"] for r in test[frames[1].pk]["reads"]] == ["reader-1", "reader-2"]
    categories = {c["id"] for c in _instances(archive, "test")["categories"]}
    labels = [a for r in test[frames[1].pk]["reads"] for a in r["annotations"]]
    assert labels and all(a["category_id"] in categories for a in labels)
    negative = [(r["reader"], r["annotations"]) for r in test[frames[4].pk]["reads"]]
    assert negative == [("reader-1", [])]
    raw = b"".join(archive.read(n) for n in archive.namelist())
    assert b"second-reader-name" not in raw and world.admin.username.encode() not in raw
    manifest = json.loads(archive.read("manifest.json"))
    assert "reader-<n>" in manifest["images"]["reads"]
    without, _ = _export(dataset["project"], image_format="none")
    assert "reads" not in _instances(without, "val")["images"][0]


def test_images_are_full_resolution_pngs_of_the_chosen_window(dataset):
    ct, frames = dataset["ct"], dataset["frames"]
    archive, _ = _export(dataset["project"], images="all")
    png = PILImage.open(io.BytesIO(archive.read(f"images/train/{ct.pk}.png")))
    assert png.size == (ct.columns, ct.rows) and png.mode == "L"
    assert not png.text, "no text chunks"
    frame = PILImage.open(io.BytesIO(archive.read(f"images/test/{frames[2].pk}.png")))
    assert frame.size == (frames[2].columns, frames[2].rows)
    other_frame = np.asarray(
        PILImage.open(io.BytesIO(archive.read(f"images/test/{frames[5].pk}.png")))
    )
    assert not np.array_equal(np.asarray(frame), other_frame), "each frame is its own pixels"

    narrow, _ = _export(dataset["project"], split="train", window=[0, 100])
    windowed = np.asarray(PILImage.open(io.BytesIO(narrow.read(f"images/train/{ct.pk}.png"))))
    assert not np.array_equal(windowed, np.asarray(png))

    raw, _ = _export(dataset["project"], split="train", image_format="png16")
    sixteen = PILImage.open(io.BytesIO(raw.read(f"images/train/{ct.pk}.png")))
    assert sixteen.mode.startswith("I") and sixteen.size == (ct.columns, ct.rows)
    assert int(np.asarray(sixteen).max()) > 255


def test_filters_split_classes_dates_and_proposals(dataset):
    project = dataset["project"]
    only_val, summary = _export(project, split="val", image_format="none")
    assert [n for n in only_val.namelist() if n.startswith("annotations/")] == [
        coco.instances_path("val")
    ]
    assert summary["splits"]["val"]["annotations"] == 1

    masses, _ = _export(project, label_classes=[dataset["second"].pk], image_format="none")
    train = _instances(masses, "train")
    assert [c["name"] for c in train["categories"]] == ["mass"]
    assert {a["category_id"] for a in train["annotations"]} == {1}
    assert len(train["annotations"]) == 1

    with_proposals, _ = _export(project, include_proposals=True, image_format="none")
    statuses = {a["id"]: a["status"] for a in _instances(with_proposals, "train")["annotations"]}
    assert statuses[dataset["proposal"].pk] == "proposed"
    assert dataset["proposal"].pk not in {
        a["id"]
        for a in _instances(_export(project, image_format="none")[0], "train")["annotations"]
    }

    old = dataset["labelled"]["ct"][0]
    Annotation.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=30))
    recent, _ = _export(
        project, image_format="none", updated_from=(timezone.now() - timedelta(days=1)).isoformat()
    )
    ids = {a["id"] for a in _instances(recent, "train")["annotations"]}
    assert old.pk not in ids and dataset["labelled"]["ct"][1].pk in ids
    assert {i["id"] for i in _instances(recent, "train")["images"]} == {dataset["ct"].pk}


@pytest.mark.parametrize(
    "options",
    [
        {"split": "holdout"},
        {"label_classes": [999999]},
        {"segmentation": "mesh"},
        {"window": [40, 0]},
        {"updated_from": "yesterday"},
        {"colour": "red"},
        {"images": "labelled"},
    ],
)
def test_bad_options_are_refused(world, options):
    with pytest.raises(coco_export.ApplicationError):
        coco_export.export_options_validate(project=world.project, options=options)


def test_a_time_without_a_zone_is_taken_as_utc(world):
    options = coco_export.export_options_validate(
        project=world.project,
        options={"updated_from": "2026-03-01T08:30:00", "updated_to": "2026-03-02T08:30:00+01:00"},
    )
    assert (options["updated_from"], options["updated_to"]) == (
        "2026-03-01T08:30:00+00:00",
        "2026-03-02T08:30:00+01:00",
    )


def test_the_job_runs_once_records_its_result_and_is_idempotent(dataset, media_root):
    job = ExportJob.objects.create(
        project=dataset["project"],
        options=coco_export.export_options_validate(project=dataset["project"], options={}),
    )
    finished = coco_export.export_run(job_id=job.pk)
    assert finished.status == JobStatus.SUCCEEDED and finished.progress == 1.0
    stored = media_root / finished.result_file
    assert stored.exists() and stored.stat().st_size == finished.result_size
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == finished.result_sha256
    assert finished.summary["splits"]["train"]["images"] == 1
    assert coco_export.export_run(job_id=job.pk) is None, "a finished job is not run again"


def test_a_failing_export_marks_the_job_failed_without_detail(dataset, monkeypatch):
    job = ExportJob.objects.create(project=dataset["project"], options={"image_format": "png8"})

    def boom(**kwargs):
        raise RuntimeError("disk full at /secret/path")

    monkeypatch.setattr(coco_export, "write_export_zip", boom)
    failed = coco_export.export_run(job_id=job.pk)
    assert failed.status == JobStatus.FAILED
    assert "secret" not in failed.error and failed.error


def test_a_cancelled_export_stops_at_its_next_heartbeat(world, dataset, media_root, monkeypatch):
    """Cancelled while it runs (right after its claim), the export stops at its first progress
    report: the heartbeat hears the cancel."""
    job = ExportJob.objects.create(
        project=dataset["project"],
        options=coco_export.export_options_validate(project=dataset["project"], options={}),
    )
    claim = jobs.job_claim

    def claim_then_cancel(model, job_id, **kwargs):
        claimed = claim(model, job_id, **kwargs)
        jobs.job_cancel(job=claimed, actor=world.admin)
        return claimed

    monkeypatch.setattr(jobs, "job_claim", claim_then_cancel)
    cancelled = coco_export.export_run(job_id=job.pk)
    assert (cancelled.status, cancelled.error) == (JobStatus.CANCELLED, "Cancelled.")
    assert cancelled.cancel_requested and not cancelled.result_file
    assert not (media_root / "exports").exists(), "nothing is stored"


def _all_text(archive):
    blobs = [name.encode() for name in archive.namelist()]
    blobs += [archive.read(name) for name in archive.namelist()]
    return blobs


def test_no_sentinel_phi_leaves_in_the_export(world):
    """Security case 27: a project built from sentinel PHI exports with zero sentinel hits."""
    phi = build_phi_dataset()
    buffer = io.BytesIO()
    phi.save_as(buffer, enforce_file_format=True)
    [image] = _ingest(world.project, "phi.dcm", buffer.getvalue())
    Image.objects.filter(pk=image.pk).update(quarantined=False)
    _label(image, world.admin, world.instance_class, 9)
    _mark(image, world.admin, "done")
    source = load_source()
    needles = [
        *SENTINELS,
        *(
            str(source[k].value)
            for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
        ),
        world.admin.username,
    ]
    for options in ({}, {"image_format": "png16", "include_proposals": True}):
        buffer = io.BytesIO()
        clean = coco_export.export_options_validate(project=world.project, options=options)
        coco_export.write_export_zip(project=world.project, options=clean, target=buffer)
        raw = buffer.getvalue()
        archive = zipfile.ZipFile(io.BytesIO(raw))
        for blob in [raw, *_all_text(archive)]:
            lowered = blob.lower()
            assert [n for n in needles if n.encode().lower() in lowered] == []
        pngs = [n for n in archive.namelist() if n.endswith(".png")]
        assert pngs and all(not PILImage.open(io.BytesIO(archive.read(n))).text for n in pngs)


def _frame_rescale(ds, index):
    """The rescale of frame ``index``, read from the file as a DICOM reader would."""
    if "RescaleSlope" in ds:
        return float(ds.RescaleSlope), float(ds.RescaleIntercept)
    for groups, pick in (
        ("PerFrameFunctionalGroupsSequence", index),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        item = ds[groups][pick] if groups in ds else None
        if item is not None and "PixelValueTransformationSequence" in item:
            transform = item.PixelValueTransformationSequence[0]
            return float(transform.RescaleSlope), float(transform.RescaleIntercept)
    return 1.0, 0.0


def _modality_values(png, entry):
    """The README's recipe: modality values (HU for CT) from a png16 export's image entry."""
    stored = np.asarray(png, dtype=np.float64) - entry["png16_offset"]
    if entry["png16_inverted"]:
        low, high = entry["stored_range"]
        stored = low + high - stored
    return entry["rescale_slope"] * stored + entry["rescale_intercept"]


def test_png16_values_give_back_the_modality_values_of_the_dicom(world):
    """HU from the PNG and its entry equal the DICOM's Modality LUT output, for signed CT with a
    rescale, an enhanced CT with a rescale per frame and a MONOCHROME1 chest CR; a Modality LUT
    Sequence is said to be one, not passed off as a line."""
    sources = {
        "ct": data_store("693_UNCI.dcm"),
        "enhanced": data_store("eCT_Supplemental.dcm"),
        "cr": data_store("RG1_UNCI.dcm"),
        "lut": data_store("mlut_18.dcm"),
    }
    images = {
        name: _ingest(world.project, f"{name}.dcm", path.read_bytes())
        for name, path in sources.items()
    }
    Image.objects.filter(pk=images["lut"][0].pk).update(quarantined=False)  # secondary capture
    archive, _ = _export(world.project, image_format="png16", images="all")
    entries = {
        i["id"]: (split, i) for split in coco.SPLITS for i in _instances(archive, split)["images"]
    }
    for name in ("ct", "enhanced", "cr"):
        original = pydicom.dcmread(sources[name])
        for image in images[name]:
            split, entry = entries[image.pk]
            png = PILImage.open(io.BytesIO(archive.read(entry["file_name"])))
            index = image.frame_number - 1
            stored = pixel_array(original, index=index)
            if "RescaleSlope" in original:
                expected = apply_modality_lut(stored, original)
            else:
                slope, intercept = _frame_rescale(original, index)
                expected = stored * slope + intercept
            assert np.array_equal(_modality_values(png, entry), expected), (
                name,
                image.frame_number,
            )
            assert entry["photometric_interpretation"] == original.PhotometricInterpretation
            assert "pixel_spacing" in entry
    ct = entries[images["ct"][0].pk][1]
    assert ct["png16_offset"] == 32768 and ct["png16_inverted"] is False
    assert (ct["rescale_slope"], ct["rescale_intercept"]) == (1.0, -1024.0)
    assert ct["default_window"] == [40.0, 100.0], "the file's window, in HU"
    assert ct["pixel_spacing"] == pytest.approx([0.478516, 0.478516])
    enhanced = {
        (entries[i.pk][1]["rescale_slope"], entries[i.pk][1]["rescale_intercept"])
        for i in images["enhanced"]
    }
    assert len(images["enhanced"]) == 2 and enhanced == {(1.0, -1024.0)}, "shared groups"

    cr_image = images["cr"][0]
    cr = entries[cr_image.pk][1]
    assert cr["png16_inverted"] is True and cr["stored_range"] == [0, 2**15 - 1]
    assert cr["default_window"] == [15000.0, 30000.0], "the file's window, not the mirrored one"
    # windowed with the default window and inverted as MONOCHROME1 is shown, the png16 is the
    # 8-bit image of the export: higher is brighter in both
    values = _modality_values(PILImage.open(io.BytesIO(archive.read(cr["file_name"]))), cr)
    centre, width = cr["default_window"]
    shown = 255 * (1 - np.clip((values - (centre - width / 2)) / width, 0, 1))
    eight, _ = _export(world.project, images="all")
    png8 = np.asarray(PILImage.open(io.BytesIO(eight.read(cr["file_name"]))), dtype=np.float64)
    assert np.abs(shown - png8).max() <= 1.0

    lut = entries[images["lut"][0].pk][1]
    assert lut["rescale_slope"] is None and lut["rescale_intercept"] is None
    manifest = json.loads(archive.read("manifest.json"))
    assert "Modality LUT Sequence" in manifest["layout"]["images_format"]
