"""Create the demo project from real DICOM shipped in the pydicom-data wheel (idempotent)."""

from __future__ import annotations

import importlib.util
import json
import secrets
import uuid
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from annotator.coco import box_and_mask
from annotator.models import (
    AnnotationStatus,
    Image,
    ImageStatus,
    LabelClass,
    Project,
    Role,
    Split,
)
from annotator.services import jobs, projects
from annotator.services.annotations import annotation_create, image_set_status, image_set_tags
from annotator.services.studies import upload_ingest
from backend.env import VAR_DIR
from radlabel.demo.dicom import lesion_slices

DEMO_FILES = [
    "693_UNCI.dcm",  # CT 512x512
    "693_J2KR.dcm",  # the same CT slice, JPEG 2000 lossless
    "MR2_J2KR.dcm",  # MR 1024x1024, JPEG 2000
    "RG1_J2KI.dcm",  # chest CR 1955x1841, MONOCHROME1
    "emri_small_RLE.dcm",  # multi-frame MR, RLE
    "eCT_Supplemental.dcm",  # multi-frame CT
    "US1_J2KR.dcm",  # ultrasound, colour
]
# Synthetic-lesion chest CT: patients x slices, and the share of train images left unlabelled
# for the radiologist (val and test are fully labelled: they measure the model).
LESION_PATIENTS, LESION_SLICES, UNLABELLED_TRAIN_SHARE = 54, 2, 0.2
# Clean chest CT slices (no nodule) of other patients: with the lesion slices, the tag
# "nodule present" has both kinds of image in every split for the tag classifier to learn.
CLEAN_PATIENTS, CLEAN_SEED = 27, 2027
NODULE_TAG = "nodule present"
# The first retrain: 420 s of training on 256 px images (the lesions are 9-24 px there); with
# every epoch's val evaluation and the version's figures, 7-8.5 minutes of wall time on a 2-core
# CPU with light background load (bench/ml_demo_learning.py measures it).
DEMO_TRAINING = {
    "time_budget_s": 420,
    "epochs": 1000,
    "image_size": 256,
    "backbone": "efficientnet_lite0_fpn",
}
LABEL_CLASSES = [
    {"name": "nodule_solid", "color": "#e6194b", "kind": "instance"},
    {"name": "nodule_ggo", "color": "#3cb44b", "kind": "instance"},
    {"name": NODULE_TAG, "color": "#911eb4", "kind": "tag"},
    {"name": "normal", "color": "#4363d8", "kind": "tag"},
    {"name": "artefact", "color": "#f58231", "kind": "tag"},
]


def demo_tag(masks: np.ndarray) -> str:
    """The tag a finished demo slice gets: "nodule present" with a lesion, else "normal"."""
    return NODULE_TAG if len(masks) else "normal"


def demo_data_folder() -> Path:
    spec = importlib.util.find_spec("data_store")
    if spec is None or spec.origin is None:
        raise RuntimeError("The pydicom-data wheel is not installed.")
    return Path(spec.origin).parent / "data"


class Command(BaseCommand):
    help = "Create demo users and a demo project filled with real DICOM (safe to run again)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--slug", default="demo")
        parser.add_argument(
            "--train",
            action="store_true",
            help="queue the first retrain (8-9 minutes on a 2-core CPU) when the project "
            "is created",
        )

    def handle(self, *args: Any, slug: str, train: bool, **options: Any) -> None:
        credentials = self._users()
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            admin = get_user_model().objects.get(username="admin")
            with transaction.atomic():
                project = projects.project_create(
                    creator=admin,
                    slug=slug,
                    name="Demo: chest and head imaging",
                    description="Real DICOM from the pydicom-data collection, de-identified.",
                    label_classes=LABEL_CLASSES,
                )
                for username, role in (
                    ("radiologist", Role.ANNOTATOR),
                    ("reviewer", Role.REVIEWER),
                ):
                    projects.membership_create(
                        project=project,
                        actor=admin,
                        user=get_user_model().objects.get(username=username),
                        role=role,
                    )
            folder = demo_data_folder()
            files = [(name, (folder / name).open("rb")) for name in DEMO_FILES]
            try:
                outcomes = upload_ingest(project=project, actor=admin, files=files)
            finally:
                for _, stream in files:
                    stream.close()
            stored = sum(o.code == "stored" for o in outcomes)
            stored += self._lesion_series(project, admin)
            self.stdout.write(f"Demo project {slug!r}: {stored} files stored.")
            if train:
                job = jobs.training_job_start(project=project, actor=admin, options=DEMO_TRAINING)
                self.stdout.write(
                    f"  queued training job {job.pk}: proposals follow when the "
                    "model passes its quality gate"
                )
        for username, password in credentials.items():
            self.stdout.write(f"  demo login: {username} / {password}")

    def _lesion_series(self, project: Project, admin: Any) -> int:
        """Chest CT slices with synthetic nodules and clean ones. A labelled slice is finished:
        a nodule slice's exact masks are accepted labels and it is tagged "nodule present", a
        clean one is tagged "normal"; both are marked done. A share of train is left as it
        came for the radiologist."""
        self.stdout.write("  making synthetic-lesion CT slices (about a minute)...")
        slices = lesion_slices(LESION_PATIENTS, LESION_SLICES, seed=2026) + lesion_slices(
            CLEAN_PATIENTS, LESION_SLICES, seed=CLEAN_SEED, lesions=(0, 0)
        )
        outcomes = upload_ingest(
            project=project,
            actor=admin,
            files=[(f"lesion-{i}.dcm", BytesIO(s.data)) for i, s in enumerate(slices)],
        )
        classes = {c.name: c.pk for c in LabelClass.objects.filter(project=project)}
        rng = np.random.default_rng(2026)
        for outcome, lesion in zip(outcomes, slices, strict=True):
            image = Image.objects.select_related("series__study__patient").get(
                pk=outcome.image_ids[0]
            )
            split = image.series.study.patient.split
            if split == Split.TRAIN and rng.random() < UNLABELLED_TRAIN_SHARE:
                continue
            for mask, name in zip(lesion.masks, lesion.class_names, strict=True):
                annotation_create(
                    image=image,
                    actor=admin,
                    client_key=uuid.uuid4(),
                    label_class=classes[name],
                    status=AnnotationStatus.ACCEPTED,
                    **box_and_mask(mask),
                )
            tag = demo_tag(lesion.masks)
            image_set_tags(image=image, actor=admin, label_class_ids=[classes[tag]])
            image_set_status(image=image, actor=admin, status=ImageStatus.DONE, role=Role.ADMIN)
        return sum(o.code == "stored" for o in outcomes)

    def _users(self) -> dict[str, str]:
        """Create the demo users once (an admin, an annotator and a second reader); their random
        passwords live in var/ (untracked)."""
        path = VAR_DIR / "demo_credentials.json"
        stored = json.loads(path.read_text()) if path.exists() else {}
        user_model = get_user_model()
        for username, superuser in (("admin", True), ("radiologist", False), ("reviewer", False)):
            if user_model.objects.filter(username=username).exists() and username in stored:
                continue
            password = secrets.token_urlsafe(9)
            user, _ = user_model.objects.get_or_create(username=username)
            user.is_superuser = user.is_staff = superuser
            user.set_password(password)
            user.save()
            stored[username] = password
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored))
        path.chmod(0o600)
        return stored
