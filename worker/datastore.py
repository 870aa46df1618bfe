"""The bridge between the ORM and ``worker.ml``; the only worker module that imports annotator.

Images reach the model as the radiologist sees them by default: the frame's modality values in
its stored default window, scaled to ``[0, 1]`` (colour images as luminance).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db.models import Q

from annotator import storage
from annotator.exceptions import ApplicationError
from annotator.models import (
    Image,
    ImageStatus,
    LabelClass,
    LabelKind,
    ModelVersion,
    PreannotationJob,
    Project,
    TrainingJob,
)
from annotator.selectors.images import image_windowed
from annotator.selectors.model_versions import (
    active_model_version,
    tag_training_images,
    training_annotations,
)
from annotator.services import jobs
from annotator.services.annotations import proposals_replace, tag_suggestions_replace
from annotator.services.models import model_version_from_training
from radlabel.augmentation import AugmentationSettings
from radlabel.backbones import PRETRAINED as PRETRAINED_BACKBONES
from radlabel.rle import decode_mask
from worker.ml.checkpoint import CorruptWeightsError
from worker.ml.classifier import ClassifierConfig, TagPredictor, TagSample, train_classifier
from worker.ml.data import Datastore, Sample
from worker.ml.engine import NonFiniteLossError
from worker.ml.launch import train_in_processes
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
    score_uncertainty,
    uncertainty,
)
from worker.ml.tag_metrics import paired_auroc_difference
from worker.ml.train import ProgressCallback, TrainConfig, TrainResult
from worker.ml.train import main as train_main

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
PREANNOTATION_BATCH = 4  # images per forward pass and per heartbeat


def instance_classes(project: Project) -> list[LabelClass]:
    return list(
        LabelClass.objects.filter(
            project=project, kind=LabelKind.INSTANCE, is_active=True
        ).order_by("order", "id")
    )


def tag_classes(project: Project) -> list[LabelClass]:
    return list(
        LabelClass.objects.filter(project=project, kind=LabelKind.TAG, is_active=True).order_by(
            "order", "id"
        )
    )


def tag_samples(
    project: Project,
    classes: Sequence[LabelClass],
    split: str,
    windowed: Mapping[int, np.ndarray],
) -> tuple[list[TagSample], list[int]]:
    """Per image of ``split``: 1 for each tag on it, 0 for the others when a person marked it
    done (or reviewed), unknown otherwise; and each image's patient (the bootstrap draws them).
    ``windowed``: images already read (the detector's), by id; the others are read here.
    """
    done = (ImageStatus.DONE, ImageStatus.REVIEWED)
    samples, patients = [], []
    for image in tag_training_images(project=project, split=split):
        tagged = {tag.pk for tag in image.tags.all()}
        absent = 0.0 if image.status in done else np.nan
        labels = np.array([1.0 if c.pk in tagged else absent for c in classes], np.float32)
        pixels = windowed[image.pk] if image.pk in windowed else image_windowed(image, cached=True)
        samples.append(TagSample(image=pixels, labels=labels, image_id=image.pk))
        patients.append(image.series.study.patient_id)
    return samples, patients


def annotation_masks(image: Image, annotations: Sequence) -> np.ndarray:
    """(N, H, W) uint8 masks of an image's annotations; one without a mask fills its box."""
    masks = np.zeros((len(annotations), image.rows, image.columns), dtype=np.uint8)
    for index, annotation in enumerate(annotations):
        if annotation.mask:
            masks[index] = decode_mask(annotation.mask)
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
        labelled = training_annotations(project=self.project, split=split).filter(
            label_class_id__in=self.label_of
        )
        images = (
            Image.objects.cleared()
            .filter(project=self.project, series__study__patient__split=split)
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
            masks = annotation_masks(image, annotations)
            boxes = np.array(
                [[a.box_x, a.box_y, a.box_x + a.box_w, a.box_y + a.box_h] for a in annotations],
                dtype=np.float32,
            ).reshape(-1, 4)
            labels = np.array(
                [self.label_of[a.label_class_id] for a in annotations], dtype=np.int64
            )
            samples.append(
                Sample(
                    image=image_windowed(image, cached=True),
                    boxes=boxes,
                    labels=labels,
                    masks=masks,
                    image_id=image.pk,
                )
            )
        return samples


def work_dir(project: Project) -> Path:
    """This host's scratch for a project's trainings (never shared with other hosts)."""
    path = Path(settings.RADLABEL_WORK_DIR) / "projects" / str(project.pk) / "training"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _publish_weights(project: Project, local: Path, name: str, sha256: str) -> str:
    """The trained file stored (verified) under the project's models; its stored name."""
    return storage.publish(local, f"projects/{project.pk}/models/{name}", sha256)


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
    except (CorruptWeightsError, OSError, storage.StoredFileError):
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


def training_run(*, job_id: int) -> TrainingJob | None:
    """Train, register the version, promote it by the rule; the job row records the outcome."""
    return jobs.job_run(TrainingJob, job_id, _train, noun="training")


def _train_config(job: TrainingJob, output_dir: Path, init: ModelVersion | None) -> TrainConfig:
    """The job's options as a training configuration; ``init`` is the version fine-tuned."""
    options = job.options
    return TrainConfig(
        output_dir=output_dir,
        backbone=options["backbone"],
        augmentation=AugmentationSettings.from_json(options.get("augmentation")),
        pretrained_backbone=options["backbone"] in PRETRAINED_BACKBONES and init is None,
        min_size=options.get("image_size", 512),
        max_size=options.get("image_size", 512),
        epochs=options.get("epochs", jobs.DEFAULT_EPOCHS),
        time_budget_s=options.get("time_budget_s"),
        min_val_lesions=job.project.promotion_min_val_lesions,
        init_weights=storage.local_copy(init.weights_file, init.sha256) if init else None,
        init_sha256=init.sha256 if init else None,
        resume_path=_resume_dir(job) / "training.pth",
    )


def _resume_dir(job: TrainingJob) -> Path:
    """The training state of a job's attempts: kept when a worker dies, so a retry resumes."""
    return work_dir(job.project) / f"resume-{job.pk}"


def _progress_reporter(job: TrainingJob, heartbeat: jobs.Heartbeat) -> ProgressCallback:
    """Heartbeats with the epoch, steps, ETA and loss curve, at most every few seconds; a
    cancel heard there stops the training at once (``JobCancelled`` leaves it from the step).

    Progress is time spent over time expected, whether epochs or a time budget bind.
    """
    started = time.monotonic()
    state = {"last": 0.0, "curve": list(job.loss_curve)}

    def on_progress(epoch: int, step: int, total: int, loss: float, eta: float) -> None:
        if state["curve"] and state["curve"][-1][0] >= step:  # a resumed run redoes lost steps
            state["curve"] = [point for point in state["curve"] if point[0] < step]
        state["curve"].append([step, round(float(loss), 5)])
        now = time.monotonic()
        if now - state["last"] >= HEARTBEAT_SECONDS:
            state["last"] = now
            heartbeat(
                epoch=epoch,
                step=step,
                total_steps=total,
                eta_seconds=eta,
                progress=min((now - started) / max(now - started + eta, 1e-9), 0.99),
                loss_curve=state["curve"][-2000:],
            )

    return on_progress


def _tag_predictor(version: ModelVersion) -> TagPredictor:
    classifier = version.classifier
    return TagPredictor(
        storage.local_copy(classifier["weights_file"], classifier["sha256"]),
        expected_sha256=classifier["sha256"],
    )


def _tags_paired_with_active(
    active: ModelVersion | None,
    classes: Sequence[LabelClass],
    val: Sequence[TagSample],
    scores: np.ndarray,
    patients: Sequence[int],
) -> dict[str, object] | None:
    """Candidate against the active version's classifier on today's val images (mean AUROC);
    None when there is none with the same tag classes or its weights cannot be loaded."""
    if active is None or not active.classifier.get("sha256") or not len(val):
        return None
    if list(active.classifier["class_map"].values()) != [c.pk for c in classes]:
        return None
    try:
        predictor = _tag_predictor(active)
    except (CorruptWeightsError, OSError, storage.StoredFileError):
        logger.exception("could not load v%s's tag classifier to compare with it", active.number)
        return None
    labels = np.stack([sample.labels for sample in val])
    return paired_auroc_difference(
        labels, scores, predictor.predict([s.image for s in val]), groups=patients
    )


def _train_tags(
    job: TrainingJob, work: Path, active: ModelVersion | None, datastore: ProjectDatastore
) -> dict[str, object]:
    """The tag classifier of the version: trained on train's tags, selected on val, reported
    on test; ``{"not_trained": why}`` when train cannot teach it. The detector's images
    (``datastore``) are not read again."""
    project = job.project
    classes = tag_classes(project)
    if not classes:
        return {}
    splits, patients = {}, {}
    for split in ("train", "val", "test"):
        windowed = {sample.image_id: sample.image for sample in datastore.samples(split)}
        splits[split], patients[split] = tag_samples(project, classes, split, windowed)
    known = np.stack([s.labels for s in splits["train"]]) if splits["train"] else np.zeros((0, 1))
    if not ((known == 1).any() and ((known == 0).any() or project.tags_exclusive)):
        return {"not_trained": "train holds no tagged image and no finished image without it"}
    # its own size: the detector's (the demo's 256 px) leaves a nodule too few feature cells
    cfg = ClassifierConfig(exclusive=project.tags_exclusive)
    result = train_classifier(
        cfg, splits, [c.name for c in classes], work / "tags.pt", groups=patients
    )
    name = f"job{job.pk}-tags-{result.sha256[:16]}.pt"
    return {
        "weights_file": _publish_weights(project, result.weights_path, name, result.sha256),
        "sha256": result.sha256,
        "class_map": {str(index): c.pk for index, c in enumerate(classes)},
        "thresholds": result.thresholds,
        "exclusive": cfg.exclusive,
        "config": {"size": cfg.size, "epochs": cfg.epochs, "time_budget_s": cfg.time_budget_s},
        "steps": result.steps,
        "feature_seconds": result.feature_seconds,
        "train_seconds": result.train_seconds,
        "metrics": result.metrics,
        "comparison": _tags_paired_with_active(
            active, classes, splits["val"], result.scores["val"], patients["val"]
        ),
    }


def _train_detector(
    config: TrainConfig, datastore: ProjectDatastore, work: Path, on_progress: ProgressCallback
) -> TrainResult:
    """Train in this process, or in ``RADLABEL_TRAIN_PROCESSES`` processes under torchrun (the
    samples written into ``work`` for them)."""
    processes = settings.RADLABEL_TRAIN_PROCESSES
    if processes > 1:
        return train_in_processes(
            config,
            datastore,
            processes=processes,
            work_dir=work / "processes",
            on_progress=on_progress,
        )
    result = train_main(config, datastore, on_progress=on_progress)
    if result is None:
        raise RuntimeError("one training process returned no result")
    return result


def _train(job: TrainingJob, heartbeat: jobs.Heartbeat) -> dict[str, object]:
    project = job.project
    classes = instance_classes(project)
    active = active_model_version(project=project)
    for stale in work_dir(project).glob(f"train-{job.pk}-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by an attempt whose worker died
    work = Path(tempfile.mkdtemp(prefix=f"train-{job.pk}-", dir=work_dir(project)))
    config = _train_config(job, work, active if job.options.get("init") == "active" else None)
    try:
        datastore = ProjectDatastore(project, classes)
        try:
            result = _train_detector(config, datastore, work, _progress_reporter(job, heartbeat))
        except NonFiniteLossError as error:
            raise ApplicationError(f"Training diverged: {error}") from error
        splits = ("val", "test")
        threshold, metrics, matches = version_metrics(
            {split: datastore.samples(split) for split in splits},
            result.detections,
            result.metrics,
            datastore.class_names,
            groups={split: datastore.patients(split) for split in splits},
        )
        weights_file = _publish_weights(
            project, result.weights_path, f"job{job.pk}-{result.sha256[:16]}.pt", result.sha256
        )
        comparison = (
            _paired_with_active(active, datastore, matches["val"], threshold) if active else None
        )
        classifier = _train_tags(job, work, active, datastore)
        version = model_version_from_training(
            training_job=job,
            comparison=comparison,
            backbone=config.backbone,
            config={**job.options, "min_size": config.min_size, "max_size": config.max_size},
            class_map={str(index): lc.pk for index, lc in enumerate(classes, 1)},
            weights_file=weights_file,
            sha256=result.sha256,
            score_threshold=threshold,
            metrics=metrics,
            training_data=datastore.seen(),
            classifier=classifier,
        )
    finally:
        # whatever the outcome, a job that ends leaves no training state or work folder behind
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(_resume_dir(job), ignore_errors=True)
    # the training's own curve: a resumed run restored every step up to its last epoch,
    # including those its dead attempt never reported in a heartbeat
    curve = [[step, round(float(loss), 5)] for step, loss in result.loss_curve]
    return {"model_version": version, "loss_curve": curve[-2000:]}


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
        str(storage.local_copy(version.weights_file, version.sha256)),
        version.sha256,
        min(version.score_threshold, LOW_SCORE_FLOOR),
    )


def _clip_box(box: Sequence[float], image: Image) -> list[float]:
    x, y, w, h = box
    x0, y0 = min(max(x, 0.0), image.columns), min(max(y, 0.0), image.rows)
    x1, y1 = min(max(x + w, 0.0), image.columns), min(max(y + h, 0.0), image.rows)
    return [x0, y0, x1 - x0, y1 - y0]


def _suggest_tags(
    version: ModelVersion, images: Sequence[Image], probabilities: np.ndarray
) -> None:
    """Each image's tag probabilities under ``version``'s classifier, as its tag suggestions."""
    classifier = version.classifier
    tag_ids = [classifier["class_map"][str(t)] for t in range(probabilities.shape[1])]
    thresholds = classifier["thresholds"]
    for image, row in zip(images, probabilities, strict=True):
        tag_suggestions_replace(
            image=image,
            model_version=version,
            suggestions=[
                {
                    "label_class": tag_id,
                    "probability": float(p),
                    "threshold": float(threshold),
                    "uncertainty": score_uncertainty(float(p), threshold),
                }
                for tag_id, p, threshold in zip(tag_ids, row, thresholds, strict=True)
            ],
        )


def preannotation_run(*, job_id: int) -> PreannotationJob | None:
    """Propose on the job's images with its version, batch by batch, resuming where it stopped."""
    return jobs.job_run(PreannotationJob, job_id, _preannotate, noun="pre-annotation")


def _preannotate(job: PreannotationJob, heartbeat: jobs.Heartbeat) -> dict[str, object]:
    version: ModelVersion = job.model_version
    class_map = {int(k): v for k, v in version.class_map.items()}
    predictor = serving_predictor(version)
    tagger = _tag_predictor(version) if version.classifier.get("sha256") else None
    pending = job.image_ids[job.done :]
    for start in range(0, len(pending), PREANNOTATION_BATCH):
        images = list(
            Image.objects.filter(pk__in=pending[start : start + PREANNOTATION_BATCH])
            .select_related("instance")
            .order_by("pk")
        )
        windowed = [image_windowed(image) for image in images]
        predictions = predictor.predict(windowed)
        if tagger is not None:
            _suggest_tags(version, images, tagger.predict(windowed))
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
        heartbeat(done=done, progress=done / len(job.image_ids))
    return {"done": len(job.image_ids)}
