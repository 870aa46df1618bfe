"""The bridge between the ORM and ``worker.ml``; the only worker module that imports annotator.

Images reach the model as the radiologist sees them by default: the frame's modality values in
its stored default window, scaled to ``[0, 1]`` (colour images as luminance).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db.models import Q
from pycocotools import mask as mask_utils

from annotator.models import (
    Image,
    ImageStatus,
    JobStatus,
    LabelClass,
    LabelKind,
    ModelVersion,
    PreannotationJob,
    Project,
    TrainingJob,
)
from annotator.selectors.images import image_windowed
from annotator.services import jobs
from annotator.services.annotations import proposals_replace
from annotator.services.models import (
    active_model_version,
    model_version_promotion_decide,
    model_version_register,
)
from worker.ml.checkpoint import CorruptWeightsError
from worker.ml.data import Datastore, Sample
from worker.ml.engine import NonFiniteLossError
from worker.ml.lesion_metrics import (
    MAX_MARKS_PER_IMAGE,
    ImageMatches,
    match_split,
    paired_difference,
    version_metrics,
)
from worker.ml.predictor import (
    LOW_SCORE_FLOOR,
    Prediction,
    Predictor,
    as_detections,
    uncertainty,
)
from worker.ml.train import TrainConfig, TrainingCancelled
from worker.ml.train import main as train_main

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0


def instance_classes(project: Project) -> list[LabelClass]:
    return list(
        LabelClass.objects.filter(
            project=project, kind=LabelKind.INSTANCE, is_active=True
        ).order_by("order", "id")
    )


def _annotation_masks(image: Image, annotations: Sequence) -> np.ndarray:
    masks = np.zeros((len(annotations), image.rows, image.columns), dtype=np.uint8)
    for index, annotation in enumerate(annotations):
        if annotation.mask:
            rle = {"size": annotation.mask["size"], "counts": annotation.mask["counts"].encode()}
            masks[index] = mask_utils.decode(rle)
        else:
            x, y, w, h = (int(round(v)) for v in annotation.box)
            masks[index, y : y + h, x : x + w] = 1
    return masks


class ProjectDatastore(Datastore):
    """A project's accepted labels per split; images marked done with no label are negatives."""

    def __init__(self, project: Project, classes: Sequence[LabelClass]) -> None:
        self.project = project
        self.label_of = {label_class.pk: index for index, label_class in enumerate(classes, 1)}
        self._names = [label_class.name for label_class in classes]
        self._samples: dict[str, list[Sample]] = {}
        self._patients: dict[int, int] = {}
        self.modalities: set[str] = set()

    @property
    def class_names(self) -> list[str]:
        return self._names

    def samples(self, split: str) -> Sequence[Sample]:
        if split not in self._samples:
            self._samples[split] = self._load(split)
        return self._samples[split]

    def patients(self, split: str) -> list[int]:
        """The patient of each sample of ``split``, in order (the bootstrap draws patients)."""
        return [self._patients[sample.image_id] for sample in self.samples(split)]

    def seen(self) -> dict[str, object]:
        """What the training saw: image ids and label counts per split, and the modalities."""
        return {
            "modalities": sorted(self.modalities),
            **{
                split: {
                    "images": [sample.image_id for sample in samples],
                    "labels": sum(len(sample.labels) for sample in samples),
                }
                for split, samples in self._samples.items()
            },
        }

    def _load(self, split: str) -> list[Sample]:
        labelled = jobs.training_annotations(project=self.project, split=split).filter(
            label_class_id__in=self.label_of
        )
        images = (
            Image.objects.filter(
                project=self.project, quarantined=False, series__study__patient__split=split
            )
            .filter(
                Q(pk__in=labelled.values("image_id"))
                | Q(status__in=[ImageStatus.DONE, ImageStatus.REVIEWED])
            )
            .select_related("instance", "series__study")
            .order_by("id")
        )
        by_image: dict[int, list] = {}
        for annotation in labelled.order_by("id"):
            by_image.setdefault(annotation.image_id, []).append(annotation)
        samples = []
        for image in images:
            self.modalities.add(image.series.modality)
            self._patients[image.pk] = image.series.study.patient_id
            annotations = by_image.get(image.pk, [])
            masks = _annotation_masks(image, annotations)
            boxes = np.array(
                [[a.box_x, a.box_y, a.box_x + a.box_w, a.box_y + a.box_h] for a in annotations],
                dtype=np.float32,
            ).reshape(-1, 4)
            labels = np.array(
                [self.label_of[a.label_class_id] for a in annotations], dtype=np.int64
            )
            samples.append(
                Sample(
                    image=image_windowed(image),
                    boxes=boxes,
                    labels=labels,
                    masks=masks,
                    image_id=image.pk,
                )
            )
        return samples


def models_dir(project: Project) -> Path:
    path = Path(settings.MEDIA_ROOT) / "projects" / str(project.pk) / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _paired_with_active(
    active: ModelVersion,
    datastore: ProjectDatastore,
    candidate: list[ImageMatches],
    threshold: float,
) -> dict[str, object] | None:
    """Candidate against the active version on today's val images, each at its own threshold.

    None when val has no lesion or the active version's weights cannot be loaded (the decision
    then says it could not compare).
    """
    samples = datastore.samples("val")
    if not sum(len(sample.labels) for sample in samples):
        return None
    try:
        predictor = serving_predictor(active)
    except (CorruptWeightsError, OSError):
        logger.exception("could not load v%s to compare with it", active.number)
        return None
    # The active model's labels are its own class indices; compare them as today's classes.
    own = {int(k): datastore.label_of.get(pk) for k, pk in active.class_map.items()}
    detections = []
    for sample, found in zip(
        samples, predictor.predict([sample.image for sample in samples]), strict=True
    ):
        kept = [
            Prediction(label=own[p.label], score=p.score, box_xywh=p.box_xywh, mask_rle=p.mask_rle)
            for p in found
            if own.get(p.label) is not None
        ]
        detections.append(as_detections(sample.image_id, kept))
    return paired_difference(
        candidate,
        threshold,
        match_split(samples, detections),
        active.score_threshold,
        groups=datastore.patients("val"),
    )


def run_training(job: TrainingJob) -> None:
    """Train, register the version, promote it by the rule; the job row records the outcome."""
    project = job.project
    classes = instance_classes(project)
    options = job.options
    active = active_model_version(project=project)
    for stale in models_dir(project).glob(f"train-{job.pk}-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by an attempt whose worker died
    work = Path(tempfile.mkdtemp(prefix=f"train-{job.pk}-", dir=models_dir(project)))
    resume = models_dir(project) / f"resume-{job.pk}"  # kept when a worker dies: a retry resumes
    state = {"last": 0.0, "stop": False, "curve": list(job.loss_curve)}

    started = time.monotonic()

    def on_progress(epoch: int, step: int, total: int, loss: float, eta: float) -> None:
        """Progress is time spent over time expected, whether epochs or a time budget bind."""
        if state["curve"] and state["curve"][-1][0] >= step:  # a resumed run redoes lost steps
            state["curve"] = [point for point in state["curve"] if point[0] < step]
        state["curve"].append([step, round(float(loss), 5)])
        now = time.monotonic()
        if now - state["last"] >= HEARTBEAT_SECONDS:
            state["last"] = now
            state["stop"] = jobs.job_heartbeat(
                job,
                epoch=epoch,
                step=step,
                total_steps=total,
                eta_seconds=eta,
                progress=min((now - started) / max(now - started + eta, 1e-9), 0.99),
                loss_curve=state["curve"][-2000:],
            )

    init = active if options.get("init") == "active" else None
    config = TrainConfig(
        output_dir=work,
        backbone=options["backbone"],
        pretrained_backbone=options["backbone"] in jobs.PRETRAINED_BACKBONES and init is None,
        min_size=options.get("image_size", 512),
        max_size=options.get("image_size", 512),
        epochs=options.get("epochs", jobs.DEFAULT_EPOCHS),
        time_budget_s=options.get("time_budget_s"),
        min_val_lesions=project.promotion_min_val_lesions,
        init_weights=Path(settings.MEDIA_ROOT) / init.weights_file if init else None,
        init_sha256=init.sha256 if init else None,
        resume_path=resume / "training.pth",
    )
    try:
        datastore = ProjectDatastore(project, classes)
        result = train_main(
            config, datastore, on_progress=on_progress, should_stop=lambda: state["stop"]
        )
        splits = ("val", "test")
        threshold, metrics, matches = version_metrics(
            {split: datastore.samples(split) for split in splits},
            result.detections,
            result.metrics,
            datastore.class_names,
            groups={split: datastore.patients(split) for split in splits},
        )
        final = models_dir(project) / f"job{job.pk}-{result.sha256[:16]}.pt"
        os.replace(result.weights_path, final)
        version = model_version_register(
            project=project,
            training_job=job,
            backbone=config.backbone,
            config={**options, "min_size": config.min_size, "max_size": config.max_size},
            class_map={str(index): lc.pk for index, lc in enumerate(classes, 1)},
            weights_file=str(final.relative_to(settings.MEDIA_ROOT)),
            sha256=result.sha256,
            score_threshold=threshold,
            metrics=metrics,
            training_data=datastore.seen(),
        )
        comparison = (
            _paired_with_active(active, datastore, matches["val"], threshold) if active else None
        )
        decision = model_version_promotion_decide(version=version, comparison=comparison)
        if decision.promote:
            jobs.model_version_promote(version=version, actor=None, reason=decision.reason)
        # the training's own curve: a resumed run restored every step up to its last epoch,
        # including those its dead attempt never reported in a heartbeat
        curve = [[step, round(float(loss), 5)] for step, loss in result.loss_curve]
        # a finished job leaves no training state or work folder behind once it says so
        shutil.rmtree(resume, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
        jobs.job_finish(
            job, status=JobStatus.SUCCEEDED, model_version=version, loss_curve=curve[-2000:]
        )
    except TrainingCancelled:
        jobs.job_finish(job, status=JobStatus.CANCELLED, error="Cancelled.")
    except NonFiniteLossError as error:
        jobs.job_finish(job, status=JobStatus.FAILED, error=f"Training diverged: {error}")
    except Exception as error:
        logger.exception("training job %s failed", job.pk)
        jobs.job_finish(job, status=JobStatus.FAILED, error=f"{type(error).__name__}: {error}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(resume, ignore_errors=True)


@lru_cache(maxsize=2)
def _predictor(path: str, sha256: str, score_floor: float) -> Predictor:
    """One loaded network per checkpoint; a new version loads a new one."""
    return Predictor(Path(path), expected_sha256=sha256, score_threshold=score_floor)


def serving_predictor(version: ModelVersion) -> Predictor:
    """The version's network, returning detections down to below its threshold.

    Those at or above ``version.score_threshold`` become proposals; the ones below only raise
    the image's uncertainty.
    """
    return _predictor(
        str(Path(settings.MEDIA_ROOT) / version.weights_file),
        version.sha256,
        min(version.score_threshold, LOW_SCORE_FLOOR),
    )


def _clip_box(box: Sequence[float], image: Image) -> list[float]:
    x, y, w, h = box
    x0, y0 = min(max(x, 0.0), image.columns), min(max(y, 0.0), image.rows)
    x1, y1 = min(max(x + w, 0.0), image.columns), min(max(y + h, 0.0), image.rows)
    return [x0, y0, x1 - x0, y1 - y0]


def run_preannotation(job: PreannotationJob, *, batch_size: int = 4) -> None:
    version: ModelVersion = job.model_version
    class_map = {int(k): v for k, v in version.class_map.items()}
    try:
        predictor = serving_predictor(version)
        pending = job.image_ids[job.done :]
        for start in range(0, len(pending), batch_size):
            images = list(
                Image.objects.filter(pk__in=pending[start : start + batch_size])
                .select_related("instance")
                .order_by("pk")
            )
            predictions = predictor.predict([image_windowed(image) for image in images])
            for image, found in zip(images, predictions, strict=True):
                found = [p for p in found if p.label in class_map]
                proposed = [p for p in found if p.score >= version.score_threshold]
                proposals_replace(
                    image=image,
                    model_version=version,
                    uncertainty=uncertainty(found, threshold=version.score_threshold),
                    proposals=[
                        {
                            "label_class": class_map[p.label],
                            "score": p.score,
                            "box": _clip_box(p.box_xywh, image),
                            "mask": p.mask_rle,
                        }
                        for p in proposed[:MAX_MARKS_PER_IMAGE]
                    ],
                )
            done = job.done + start + len(images)
            if jobs.job_heartbeat(job, done=done, progress=done / len(job.image_ids)):
                jobs.job_finish(job, status=JobStatus.CANCELLED, error="Cancelled.")
                return
        jobs.job_finish(job, status=JobStatus.SUCCEEDED, done=len(job.image_ids))
    except Exception as error:
        logger.exception("pre-annotation job %s failed", job.pk)
        jobs.job_finish(job, status=JobStatus.FAILED, error=f"{type(error).__name__}: {error}")
