"""``torchrun --nproc-per-node 2 -m worker.ml.train`` (gloo on the CPU) trains to the end and
writes the checkpoint and metrics that one process writes, each rank taking half the steps."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from worker.ml.checkpoint import load_weights
from worker.ml.data import SPLITS, NpzDatastore
from worker.ml.model import build_model

from .conftest import CLASS_NAMES, toy_datastore

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]
EPOCHS = 2
TRAIN_IMAGES = 4  # batch 2: two steps an epoch in one process, one in each of two
REPORTED = re.compile(r"weights (\S+) sha256 ([0-9a-f]{64})")
TORCHRUN = ("-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2")


def _train(data: Path, out: Path, launcher: tuple[str, ...] = ()) -> dict[str, Any]:
    """Train on ``data`` into ``out`` as a real process; the checkpoint, loaded with the sha256
    that the run reported."""
    run = subprocess.run(
        [
            sys.executable,
            *launcher,
            "-m",
            "worker.ml.train",
            *("--data-dir", str(data), "--output-dir", str(out), "--epochs", str(EPOCHS)),
            *("--min-size", "64", "--max-size", "64", "--warmup-iters", "2"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    reported = REPORTED.findall(run.stderr)
    assert len(reported) == 1, f"rank 0 alone reports the weights:\n{run.stderr[-4000:]}"
    path, sha256 = reported[0]
    assert Path(path) == out / "model.pt"
    return load_weights(Path(path), expected_sha256=sha256)


def test_two_processes_write_the_checkpoint_and_metrics_of_one(tmp_path):
    store = toy_datastore(n_train=TRAIN_IMAGES, n_eval=2)
    NpzDatastore.write(tmp_path / "data", CLASS_NAMES, {s: store.samples(s) for s in SPLITS})

    one = _train(tmp_path / "data", tmp_path / "one")
    two = _train(tmp_path / "data", tmp_path / "two", TORCHRUN)

    assert one["steps"] == EPOCHS * TRAIN_IMAGES // 2
    assert two["steps"] == EPOCHS * TRAIN_IMAGES // 4, "each of 2 ranks took half the batches"
    assert two.keys() == one.keys()
    assert (two["config"], two["class_names"], two["epoch"]) == (
        one["config"],
        one["class_names"],
        one["epoch"],
    )
    shapes = {name: tuple(tensor.shape) for name, tensor in one["model"].items()}
    assert {name: tuple(tensor.shape) for name, tensor in two["model"].items()} == shapes
    build_model(**two["config"]).load_state_dict(two["model"])  # strict: no DDP "module." names
    assert set(two["metrics"]) == set(one["metrics"]) == {"val", "test"}
    for split, metrics in two["metrics"].items():
        assert metrics.keys() == one["metrics"][split].keys()
        for run in (metrics, one["metrics"][split]):
            headline = [run[name] for name in ("bbox_AP", "segm_AP", "segm_AP/bright")]
            assert all(math.isfinite(value) for value in headline), (split, run)
            # an AP by lesion size may be undefined (NaN, COCO's -1), depending on detections
            assert all(math.isnan(v) or 0.0 <= v <= 1.0 for v in run.values()), (split, run)
