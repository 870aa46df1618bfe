"""The demo's first retrain, N fresh runs: test segm AP50, lesion recall, the tag classifier's
test AUROC and F1 for "nodule present", and wall time.

Each run does what a fresh ``make run`` does to the demo project, without the web stack: the
same synthetic-lesion CT files (``seed_demo``'s patients, slices and seed), read back from DICOM
and windowed as the worker does; patients placed on train/val/test by the project's split rule
with fresh random pseudonyms (as a new project gets); the same share of train images left
unlabelled; then the worker's training call with the demo's options (``seed_demo``'s
``DEMO_TRAINING`` through the server's option cleaning and the worker's training config).
Wall time runs from the start of training to the version's figures (every epoch's val
evaluation, the test evaluation and the operating point with its bootstrap intervals included;
the worker's start-up and the DICOM reads, a few seconds, are not).

Test lesion recall is at the operating threshold chosen on val (best lesion-level F1). The tag
classifier then trains as the worker trains it after the detector (``seed_demo``'s tags: a
finished nodule slice "nodule present", a finished clean one "normal"); its F1 is at the
threshold chosen on val, and its seconds (features and head) are inside the wall time.

Reproduce (the demo's default, 3 fresh runs):
    .venv/bin/python bench/ml_demo_learning.py --runs 3
Keep the weights (for bench/ml_inference.py --weights ... --sha256 ...): add --keep var/ml-demo
Candidates, shorter probes:
    .venv/bin/python bench/ml_demo_learning.py --runs 1 --budget 120 \
        --backbones efficientnet_lite0_fpn resnet18_fpn mobilenet_v3_fpn
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from functools import cache
from io import BytesIO
from pathlib import Path

import numpy as np
import pydicom
import torch
from _django import django_setup

django_setup()

from annotator.management.commands.seed_demo import (  # noqa: E402
    CLEAN_PATIENTS,
    CLEAN_SEED,
    DEMO_TRAINING,
    LABEL_CLASSES,
    LESION_PATIENTS,
    LESION_SLICES,
    NODULE_TAG,
    UNLABELLED_TRAIN_SHARE,
    demo_tag,
)
from annotator.services.datasets import split_for  # noqa: E402
from annotator.services.jobs import _training_options  # noqa: E402
from radlabel.backbones import PRETRAINED  # noqa: E402
from radlabel.demo.dicom import LesionSlice, lesion_slices  # noqa: E402
from radlabel.demo.lesions import CLASS_NAMES, DEMO_WINDOW, window  # noqa: E402
from worker.ml.classifier import ClassifierConfig, TagSample, train_classifier  # noqa: E402
from worker.ml.data import InMemoryDatastore, Sample, sample_from_masks  # noqa: E402
from worker.ml.lesion_metrics import version_metrics  # noqa: E402
from worker.ml.train import TrainConfig, TrainResult, main  # noqa: E402

RATIOS = {"train": 70, "val": 15, "test": 15}  # a new project's split ratios
MIN_VAL_LESIONS = 10  # a new project's promotion_min_val_lesions
SEED_DEMO_SEED = 2026
TAGS = [c["name"] for c in LABEL_CLASSES if c["kind"] == "tag"]


def train_config(options: dict, output_dir: Path) -> TrainConfig:
    """The config ``worker.datastore._train_config`` builds from a job's options (no init)."""
    return TrainConfig(
        output_dir=output_dir,
        backbone=options["backbone"],
        pretrained_backbone=options["backbone"] in PRETRAINED,
        min_size=options["image_size"],
        max_size=options["image_size"],
        epochs=options["epochs"],
        time_budget_s=options["time_budget_s"],
        min_val_lesions=MIN_VAL_LESIONS,
    )


@cache
def demo_slices() -> tuple[LesionSlice, ...]:
    """``seed_demo``'s synthetic-lesion and clean CT files (the same in every fresh run)."""
    return tuple(
        lesion_slices(LESION_PATIENTS, LESION_SLICES, seed=SEED_DEMO_SEED)
        + lesion_slices(CLEAN_PATIENTS, LESION_SLICES, seed=CLEAN_SEED, lesions=(0, 0))
    )


def demo_splits(
    run: int,
) -> tuple[dict[str, list[Sample]], dict[str, list[str]], dict[str, list[TagSample]]]:
    """The demo project's finished samples, their patients and their tags per split, for fresh
    run ``run``."""
    slices = demo_slices()
    pseudonyms = {}
    rng = np.random.default_rng(run)
    unlabelled = np.random.default_rng(SEED_DEMO_SEED)
    splits: dict[str, list[Sample]] = {"train": [], "val": [], "test": []}
    patients: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    tags: dict[str, list[TagSample]] = {"train": [], "val": [], "test": []}
    for i, lesion in enumerate(slices):
        if lesion.patient_id not in pseudonyms:
            pseudonyms[lesion.patient_id] = rng.bytes(12).hex()
        split = split_for(pseudonym=pseudonyms[lesion.patient_id], seed="radlabel", ratios=RATIOS)
        if split == "train" and unlabelled.random() < UNLABELLED_TRAIN_SHARE:
            continue
        hu = pydicom.dcmread(BytesIO(lesion.data)).pixel_array.astype(np.float32)
        image = window(hu, *DEMO_WINDOW)
        splits[split].append(sample_from_masks(image, lesion.masks, lesion.labels, i + 1))
        patients[split].append(lesion.patient_id)
        tag = demo_tag(lesion.masks)
        labels = np.array([float(name == tag) for name in TAGS], np.float32)
        tags[split].append(TagSample(image, labels, i + 1))
    return splits, patients, tags


def version_figures(
    result: TrainResult, splits: dict[str, list[Sample]], patients: dict[str, list[str]]
) -> tuple[float, dict]:
    """The trained version's operating threshold (chosen on val) and its val and test figures,
    as the worker registers them."""
    evaluated = ("val", "test")
    threshold, metrics, _ = version_metrics(
        {split: splits[split] for split in evaluated},
        result.detections,
        result.metrics,
        CLASS_NAMES,
        groups={split: patients[split] for split in evaluated},
    )
    return threshold, metrics


def one_run(run: int, options: dict, output_dir: Path) -> dict:
    splits, patients, tags = demo_splits(run)
    store = InMemoryDatastore(CLASS_NAMES, splits)
    cfg = train_config(options, output_dir)
    t0 = time.monotonic()
    result = main(cfg, store)
    threshold, metrics = version_figures(result, splits, patients)
    t1 = time.monotonic()
    classifier = train_classifier(
        ClassifierConfig(),
        tags,
        TAGS,
        output_dir / "tags.pt",
        groups=patients,
    )
    wall = time.monotonic() - t0
    nodule = classifier.metrics["test"]["tags"][NODULE_TAG]
    test = metrics["test"].get("at_threshold", {})
    return {
        "images": {k: len(v) for k, v in splits.items()},
        "lesions": {k: sum(len(s.labels) for s in v) for k, v in splits.items()},
        "test_segm_AP50": result.metrics["test"]["segm_AP50"],
        "test_segm_AP": result.metrics["test"]["segm_AP"],
        "val_segm_AP50": result.metrics["val"]["segm_AP50"],
        "test_recall": test.get("recall", {}).get("value"),
        "test_fp_per_image": test.get("fp_per_image", {}).get("value"),
        "threshold": threshold,
        "tag_auroc": nodule["auroc"]["value"],
        "tag_f1": nodule["f1"]["value"],
        "tag_images": nodule["images"],
        "tag_positives": nodule["positives"],
        "classifier_s": wall - (t1 - t0),
        "steps": result.steps,
        "epochs": len(result.history),
        "kept_epoch": result.best_epoch,
        "train_s": result.train_seconds,
        "wall_s": wall,
        "weights": result.weights_path,
        "sha256": result.sha256,
    }


def _summary(values: list[float | None], fmt: str = ".3f") -> str:
    clean = [v for v in values if v is not None]
    if not clean:
        return "n/a"
    return " / ".join(f"{v:{fmt}}" for v in (min(clean), statistics.median(clean), max(clean)))


def run() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=3, help="fresh runs per backbone")
    p.add_argument("--first-run", type=int, default=1, help="split seed of the first run")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--budget", type=float, default=None, help="override the demo's budget (s)")
    p.add_argument("--size", type=int, default=None, help="override the demo's image size")
    p.add_argument("--backbones", nargs="+", default=[DEMO_TRAINING["backbone"]])
    p.add_argument("--keep", type=Path, help="keep each run's weights in this folder")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    load = os.getloadavg()
    print(f"torch {torch.__version__}, threads {args.threads}, load average at start {load}")
    for backbone in args.backbones:
        options = {**DEMO_TRAINING, "backbone": backbone}
        if args.budget is not None:
            options["time_budget_s"] = args.budget
        if args.size is not None:
            options["image_size"] = args.size
        options = _training_options(options)
        rows = []
        for run in range(args.first_run, args.first_run + args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                r = one_run(run, options, Path(tmp))
                if args.keep is not None:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    kept = args.keep / f"{backbone}-run{run}.pt"
                    shutil.copyfile(r["weights"], kept)
                    print(f"kept {kept} sha256 {r['sha256']}")
            rows.append(r)
            print(
                f"{backbone} run {run}: test segm AP50 {r['test_segm_AP50']:.3f} "
                f"(AP {r['test_segm_AP']:.3f}), val segm AP50 {r['val_segm_AP50']:.3f}, "
                f"test recall {r['test_recall']} at threshold {r['threshold']:.2f} "
                f"({r['test_fp_per_image']} false marks/image), {r['steps']} steps, "
                f"{r['epochs']} epochs (kept {r['kept_epoch']}), train {r['train_s']:.0f}s, "
                f"wall {r['wall_s']:.0f}s; images {r['images']} lesions {r['lesions']}; "
                f"'{NODULE_TAG}' test AUROC {r['tag_auroc']:.3f} F1 {r['tag_f1']:.3f} on "
                f"{r['tag_images']} images ({r['tag_positives']} with it), classifier "
                f"{r['classifier_s']:.0f}s",
                flush=True,
            )
        print(f"== {backbone} {options}: {len(rows)} fresh runs, min / median / max")
        print(f"   test segm AP50     {_summary([r['test_segm_AP50'] for r in rows])}")
        print(f"   test lesion recall {_summary([r['test_recall'] for r in rows])}")
        print(f"   tag test AUROC     {_summary([r['tag_auroc'] for r in rows])}")
        print(f"   tag test F1        {_summary([r['tag_f1'] for r in rows])}")
        print(f"   classifier s       {_summary([r['classifier_s'] for r in rows], '.0f')}")
        print(f"   wall s             {_summary([r['wall_s'] for r in rows], '.0f')}")
    print(f"load average at end {os.getloadavg()}")
    print("command: .venv/bin/python bench/ml_demo_learning.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    run()
