"""The single-page app in a real Chromium against a real gunicorn on the test database.

The test seeds what the browser tests need (users, a project, real DICOM with model proposals,
model versions, a finished training run, worker heartbeats), serves it with gunicorn on a free
loopback port, and runs ``npm run e2e`` in ``frontend/`` (Playwright driving /usr/bin/chromium).
Screenshots land in ``test-artifacts/browser/``.

``RADLABEL_BROWSER_RUN`` names the npm scripts to run (default ``e2e``); ``e2e bench`` also
seeds a 100-slice series and an image with 50 masks and prints the viewer benchmark.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pydicom
import pytest
from django.conf import settings
from django.utils import timezone
from pydicom.uid import generate_uid

from annotator import coco
from annotator.models import (
    Annotation,
    AnnotationStatus,
    Image,
    JobStatus,
    LabelClass,
    ModelVersionStatus,
    Patient,
    Role,
    Source,
    Split,
    WorkerHeartbeat,
)
from annotator.services.annotations import proposals_replace, tag_suggestions_replace
from annotator.services.studies import upload_ingest
from radlabel.demo.dicom import lesion_slices
from tests import factories
from tests.dicom_files import data_store
from tests.processes import require_tool, spawned_database_url, web_server

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
PASSWORD = "browser-test-passphrase-7"
SLUG = "chest-ct"

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _disc(size: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    return ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(np.uint8)


MULTI_FRAME_MR = data_store("emri_small.dcm").read_bytes()


def _upload(project, slices, prefix: str) -> list[Image]:
    files = [(f"{prefix}_{i:03d}.dcm", BytesIO(s.data)) for i, s in enumerate(slices)]
    outcomes = upload_ingest(project=project, actor=None, files=files)
    assert [o.code for o in outcomes] == ["stored"] * len(slices), outcomes
    return [Image.objects.get(pk=o.image_ids[0]) for o in outcomes]


class _File:
    def __init__(self, data: bytes) -> None:
        self.data = data


def _stack(slices, count: int) -> list[_File]:
    """``count`` slices of one series, cycling through ``slices`` (new instance UIDs, positions)."""
    out = []
    for index in range(count):
        ds = pydicom.dcmread(BytesIO(slices[index % len(slices)].data))
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[f"browser-stack-{index}"])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = index + 1
        ds.ImagePositionPatient = [0.0, 0.0, 2.5 * index]
        buffer = BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        out.append(_File(buffer.getvalue()))
    return out


def _seed(bench: bool) -> dict:
    admin, project, classes = _seed_project()
    # real CT slices with synthetic lesions of known masks, uploaded through ingest
    slices = lesion_slices(4, 3, seed=41, size=512)
    images = _upload(project, slices, "lesion")
    # splits come from a keyed hash; pin them so the training start has train labels
    patients = list(Patient.objects.filter(project=project).order_by("pk"))
    for patient, split in zip(
        patients, [Split.TRAIN, Split.VAL, Split.TEST, Split.TRAIN], strict=True
    ):
        Patient.objects.filter(pk=patient.pk).update(split=split)
    now = timezone.now()
    versions = _seed_versions(project, classes["normal"], now)
    rng = np.random.default_rng(3)
    _seed_proposals(images, slices, classes, versions[1], rng)
    _seed_tag_suggestions(images[-3:], classes["normal"], versions[1])
    # one accepted label on a train image that the editing tests do not use: training may start
    train_image = next(i for i in reversed(images) if i.series.study.patient.split == Split.TRAIN)
    Annotation.objects.filter(image=train_image).update(
        status=AnnotationStatus.ACCEPTED, source=Source.HUMAN, touched_by_human=True
    )
    bench_info = _seed_bench_stack(project, classes, rng) if bench else {}
    _seed_jobs(project, admin, versions, images, rng, now)
    _seed_workers(now)
    # a 10-frame MR: one worklist row
    [multi] = upload_ingest(
        project=project, actor=None, files=[("mr10.dcm", BytesIO(MULTI_FRAME_MR))]
    )
    assert multi.code == "stored" and len(multi.image_ids) == 10, multi
    assert LabelClass.objects.filter(project=project).count() == 4
    return bench_info


def _seed_project():
    """The admin, the project with its radiologist and its reviewer, and its label classes by
    name."""
    admin = factories.UserFactory(username="admin", password=PASSWORD)
    admin.is_superuser = admin.is_staff = True
    admin.save()
    annotator = factories.UserFactory(username="radiologist", password=PASSWORD)
    reviewer = factories.UserFactory(username="second-reader", password=PASSWORD)
    project = factories.ProjectFactory(slug=SLUG, name="Chest CT nodules")
    factories.MembershipFactory(project=project, user=annotator, role=Role.ANNOTATOR)
    factories.MembershipFactory(project=project, user=reviewer, role=Role.REVIEWER)
    classes = {
        name: factories.LabelClassFactory(project=project, name=name, color=color)
        for name, color in (
            ("nodule_solid", "#e6194b"),
            ("nodule_ggo", "#3cb44b"),
            ("calcification", "#f5d547"),
        )
    }
    classes["normal"] = factories.LabelClassFactory(
        project=project, name="normal", color="#4363d8", kind="tag"
    )
    return admin, project, classes


def _at_threshold(found, lesions, images, false_marks, threshold):
    def est(value, low, high):
        return {"value": value, "low": low, "high": high}

    recall = found / lesions
    precision = found / (found + false_marks)
    return {
        "threshold": threshold,
        "images": images,
        "lesions": lesions,
        "found": found,
        "false_marks": false_marks,
        "precision": est(precision, precision - 0.2, min(1.0, precision + 0.15)),
        "recall": est(recall, recall - 0.25, min(1.0, recall + 0.15)),
        "f1": est(0.7, 0.5, 0.85),
        "all_found": est(0.6, 0.35, 0.85),
        "fp_per_image": est(false_marks / images, 0.1, 0.9),
        "bootstrap": {"samples": 2000, "confidence": 0.95, "unit": "patient", "units": 3},
    }


def _version_metrics() -> list[dict]:
    """Three versions' figures: an old one without lesion-level figures, one with them (whose
    proposals the images hold), one whose test split has no labels."""
    return [
        {
            "val": {"segm_AP": 0.21, "segm_AP50": 0.48, "bbox_AP": 0.26},
            "test": {"segm_AP": 0.19, "segm_AP50": 0.45, "bbox_AP": 0.24},
        },
        {
            "val": {
                "segm_AP": 0.37,
                "segm_AP50": 0.71,
                "bbox_AP": 0.39,
                "at_threshold": _at_threshold(7, 10, 9, 4, 0.55),
            },
            "test": {
                "segm_AP": 0.35,
                "segm_AP50": None,
                "bbox_AP": 0.37,
                "at_threshold": _at_threshold(6, 9, 9, 5, 0.55),
            },
        },
        {
            "val": {
                "segm_AP": 0.44,
                "segm_AP50": 0.78,
                "bbox_AP": 0.45,
                "segm_AP/nodule_solid": 0.52,
                "segm_AP/nodule_ggo": 0.36,
                "at_threshold": _at_threshold(8, 10, 9, 3, 0.61),
            },
            "test": {"not_measured": "no labels in test"},
        },
    ]


def _classifier(seed: int, signal: float, normal: LabelClass) -> dict:
    """A tag classifier's figures as the worker computes them, from known scores."""
    from worker.ml.tag_metrics import classifier_metrics

    rng = np.random.default_rng(seed)
    labels = {s: (rng.random((n, 1)) < 0.5).astype(float) for s, n in (("val", 12), ("test", 16))}
    scores = {s: y * signal + rng.random(y.shape) * (1 - signal) for s, y in labels.items()}
    thresholds, figures = classifier_metrics(labels, scores, [normal.name])
    return {
        "sha256": "1" * 64,
        "class_map": {"0": normal.pk},
        "thresholds": thresholds,
        "exclusive": False,
        "metrics": figures,
    }


def _seed_versions(project, normal: LabelClass, now) -> list:
    """The model loop's three versions: retired, active and a candidate."""
    classifiers = [{}, _classifier(5, 0.3, normal), _classifier(6, 0.6, normal)]
    statuses = [ModelVersionStatus.RETIRED, ModelVersionStatus.ACTIVE, ModelVersionStatus.CANDIDATE]
    metrics = _version_metrics()
    return [
        factories.ModelVersionFactory(
            project=project,
            number=n + 1,
            status=statuses[n],
            backbone="resnet18_fpn",
            metrics=metrics[n],
            classifier=classifiers[n],
            config={"image_size": 512, "epochs": 20},
            promoted_at=now if statuses[n] == ModelVersionStatus.ACTIVE else None,
        )
        for n in range(3)
    ]


def _seed_proposals(images, slices, classes, version, rng) -> None:
    """Each image's proposals from ``version``: its lesions, a runner-up, a box-only
    calcification and a faint mask."""
    for image, lesion in zip(images, slices, strict=True):
        proposals = [
            {
                "label_class": classes[name].pk,
                **coco.box_and_mask(mask),
                "score": float(rng.uniform(0.55, 0.98)),
            }
            for mask, name in zip(lesion.masks, lesion.class_names, strict=True)
        ]
        # the model also saw the first lesion as the other nodule class: suppressed into a
        # runner-up of the best-scoring proposal
        runner_up = "nodule_ggo" if lesion.class_names[0] == "nodule_solid" else "nodule_solid"
        proposals.append(
            {
                "label_class": classes[runner_up].pk,
                **coco.box_and_mask(lesion.masks[0]),
                "score": proposals[0]["score"] * 0.5,
            }
        )
        # a box-only calcification and a faint mask the model is unsure of
        proposals.append(
            {
                "label_class": classes["calcification"].pk,
                "box": [300.0, 140.0, 26.0, 22.0],
                "mask": None,
                "score": 0.41,
            }
        )
        proposals.append(
            {
                "label_class": classes["nodule_ggo"].pk,
                **coco.box_and_mask(_disc(512, 360, 150, 14)),
                "score": 0.33,
            }
        )
        proposals_replace(
            image=image,
            proposals=proposals,
            model_version=version,
            uncertainty=float(rng.uniform(0, 1)),
        )


def _seed_tag_suggestions(images, normal: LabelClass, version) -> None:
    """The version's classifier suggests "normal" on the first two images, and holds it below
    its threshold on the third."""
    for image, probability in zip(images, (0.87, 0.74, 0.2), strict=True):
        tag_suggestions_replace(
            image=image,
            model_version=version,
            suggestions=[
                {
                    "label_class": normal.pk,
                    "probability": probability,
                    "threshold": 0.5,
                    "uncertainty": 1 - abs(probability - 0.5) * 2,
                }
            ],
        )


def _seed_bench_stack(project, classes, rng) -> dict:
    """A 100-slice series whose middle slice holds 50 proposals."""
    series = _upload(project, _stack(lesion_slices(1, 10, seed=77, size=512), 100), "stack")
    busy = series[50]
    instance_classes = [classes[n] for n in ("nodule_solid", "nodule_ggo", "calcification")]
    specs = []
    for k in range(50):
        mask = _disc(512, rng.uniform(60, 450), rng.uniform(60, 450), rng.uniform(6, 28))
        specs.append(
            {
                "label_class": instance_classes[k % 3].pk,
                **coco.box_and_mask(mask),
                "score": float(rng.uniform(0.3, 0.99)),
            }
        )
    proposals_replace(image=busy, proposals=specs, uncertainty=0.5)
    return {"stack": series[0].pk, "busy": busy.pk}


def _seed_jobs(project, admin, versions, images, rng, now) -> None:
    """A finished training run (with its loss curve) that made the candidate, and a finished
    pre-annotation by the active version."""
    steps = np.arange(0, 1200, 4)
    loss = (
        2.6 * np.exp(-steps / 260) + 0.35 + rng.normal(0, 0.06, steps.size) * np.exp(-steps / 900)
    )
    run = factories.TrainingJobFactory(
        project=project,
        created_by=admin,
        status=JobStatus.SUCCEEDED,
        progress=1.0,
        attempts=1,
        options={
            "epochs": 20,
            "time_budget_s": None,
            "image_size": 512,
            "backbone": "resnet18_fpn",
            "init": "scratch",
        },
        epoch=20,
        step=1200,
        total_steps=1200,
        eta_seconds=0,
        loss_curve=[[int(s), round(float(v), 4)] for s, v in zip(steps, loss, strict=True)],
        model_version=versions[2],
        started_at=now - timedelta(minutes=14),
        finished_at=now - timedelta(minutes=2),
    )
    versions[2].training_job = run
    versions[2].save(update_fields=["training_job"])
    factories.PreannotationJobFactory(
        project=project,
        model_version=versions[1],
        image_ids=[i.pk for i in images],
        done=len(images),
        status=JobStatus.SUCCEEDED,
        progress=1.0,
        started_at=now - timedelta(minutes=30),
        finished_at=now - timedelta(minutes=29),
    )


def _seed_workers(now) -> None:
    """A live gpu worker and a live cpu worker."""
    for hostname, queues, accelerator in (
        ("gpu-0@node-a", ["gpu"], "cuda:0 NVIDIA H100 80GB HBM3"),
        ("cpu-0@node-a", ["cpu"], "cpu"),
    ):
        WorkerHeartbeat.objects.create(
            hostname=hostname,
            queues=queues,
            accelerator=accelerator,
            started_at=now - timedelta(hours=3),
            last_seen=now + timedelta(minutes=10),  # stays alive for the whole run
        )


def _server_env() -> dict[str, str]:
    broker = urlsplit(settings.CELERY_BROKER_URL)
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.settings.test",
        "DATABASE_URL": spawned_database_url(),
        "RADLABEL_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "RADLABEL_WORK_DIR": str(settings.RADLABEL_WORK_DIR),
        # jobs started from the browser queue on a Redis database no worker consumes
        "TEST_REDIS_URL": urlunsplit(broker._replace(path="/14")),
    }


def test_single_page_app_in_chromium():
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for missing, why in (
        (not (FRONTEND / "dist" / "index.html").exists(), "frontend/dist/index.html is missing"),
        (
            not (FRONTEND / "node_modules" / "playwright-core").exists(),
            "frontend/node_modules is missing: run npm ci in frontend/ (make frontend)",
        ),
        (not shutil.which(chromium), f"{chromium} is missing (Debian package chromium)"),
    ):
        require_tool(why if missing else None)
    scripts = os.environ.get("RADLABEL_BROWSER_RUN", "e2e").split()
    bench = _seed(bench="bench" in scripts)

    env = _server_env()
    log = ARTIFACTS / "gunicorn.log"
    options = ("--threads", "4", "--keep-alive", "30", "--access-logfile", "-")
    try:
        with web_server(env, log, workers=3, options=options) as url:
            browser_env = {
                **os.environ,
                "RADLABEL_URL": url,
                "RADLABEL_USER": "radiologist",
                "RADLABEL_PASSWORD": PASSWORD,
                "RADLABEL_ADMIN_USER": "admin",
                "RADLABEL_ADMIN_PASSWORD": PASSWORD,
                "RADLABEL_REVIEWER_USER": "second-reader",
                "RADLABEL_PROJECT": SLUG,
                "RADLABEL_ARTIFACTS": str(ARTIFACTS),
                "CHROMIUM": chromium,
            }
            for script in scripts:
                result = subprocess.run(
                    ["npm", "run", "--silent", script],
                    cwd=FRONTEND,
                    env=browser_env,
                    capture_output=True,
                    text=True,
                    timeout=int(os.environ.get("RADLABEL_E2E_TIMEOUT_S", "900")),
                )
                sys.stdout.write(f"--- npm run {script}\n{result.stdout}{result.stderr}")
                assert result.returncode == 0, (
                    f"npm run {script} failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
                )
            if bench:
                sys.stdout.write(
                    "figures reproduced by: RADLABEL_BROWSER_RUN='e2e bench' "
                    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/radlabel "
                    ".venv/bin/python -m pytest tests/test_browser.py -s\n"
                )
    finally:
        with contextlib.suppress(Exception):  # leftover messages only cost a little memory
            import redis

            redis.Redis.from_url(env["TEST_REDIS_URL"]).delete("gpu", "cpu")
