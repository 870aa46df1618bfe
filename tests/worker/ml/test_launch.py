"""What the launcher and its torchrun ranks pass each other: the configuration, the progress
lines, the result (or a diverged loss), and when a rank gives up on its launcher."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from radlabel.augmentation import AugmentationSettings
from worker.ml import launch
from worker.ml import train as train_module
from worker.ml.data import SPLITS, NpzDatastore
from worker.ml.engine import Detections, NonFiniteLossError
from worker.ml.train import EpochRecord, TrainConfig, TrainResult

from .conftest import CLASS_NAMES, toy_datastore


def test_a_configuration_comes_back_whole(tmp_path):
    augmentation = AugmentationSettings.from_json({"vflip": {"enabled": True}})
    cfg = TrainConfig(
        output_dir=tmp_path / "out",
        backbone="mobilenet_v3_fpn",
        epochs=None,
        time_budget_s=30.0,
        min_val_lesions=3,
        init_weights=tmp_path / "init.pt",
        init_sha256="ab" * 32,
        resume_path=tmp_path / "resume" / "training.pth",
        augmentation=augmentation,
    )
    again = launch.config_from_json(json.loads(json.dumps(launch.config_to_json(cfg))))
    assert again == cfg and isinstance(again.resume_path, Path)
    assert launch.config_from_json(launch.config_to_json(TrainConfig(tmp_path))) == TrainConfig(
        tmp_path
    )


def test_a_result_comes_back_whole(tmp_path):
    found = Detections(
        image_id=7,
        boxes=np.array([[1.5, 2.25, 10.1, 12.7]], dtype=np.float32),
        labels=np.array([2]),
        scores=np.array([0.123456789], dtype=np.float32),
        mask_rles=[{"size": [16, 16], "counts": "0`0"}],
    )
    nothing = Detections(8, np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros(0), [])
    result = TrainResult(
        weights_path=tmp_path / "model.pt",
        sha256="cd" * 32,
        metrics={"val": {"segm_AP": 0.5, "segm_APl": float("nan")}, "test": {"segm_AP": 0.25}},
        loss_curve=[(1, 3.5), (2, 2.75)],
        history=[EpochRecord(0, 2, 1.5, 3.0, {"segm_AP": 0.5}, None)],
        detections={"val": [found, nothing], "test": []},
        best_epoch=0,
        steps=2,
        train_seconds=1.5,
    )
    again = launch.result_from_json(json.loads(json.dumps(launch.result_to_json(result))))
    assert again.weights_path == result.weights_path and again.loss_curve == result.loss_curve
    assert again.history == result.history and again.metrics["test"] == {"segm_AP": 0.25}
    assert np.isnan(again.metrics["val"]["segm_APl"])
    back, empty = again.detections["val"]
    assert np.array_equal(back.boxes, found.boxes) and back.boxes.dtype == np.float32
    assert np.array_equal(back.scores, found.scores) and back.labels.tolist() == [2]
    assert back.mask_rles == found.mask_rles and empty.boxes.shape == (0, 4)


def test_the_progress_tail_reads_complete_lines_once(tmp_path):
    path = tmp_path / "progress.jsonl"
    tail = launch._ProgressTail(path)
    assert tail.read() == []
    write = launch._progress_writer(path)
    write(0, 1, 4, 2.5, 3.0)
    with open(path, "a") as f:
        f.write("[0, 2, 4, 2.")  # a line being written
    assert tail.read() == [[0, 1, 4, 2.5, 3.0]]
    with open(path, "a") as f:
        f.write("25, 2.0]\n")
    write(1, 3, 4, 2.0, 1.0)
    assert tail.read() == [[0, 2, 4, 2.25, 2.0], [1, 3, 4, 2.0, 1.0]]
    assert tail.read() == []


def test_a_rank_gives_up_once_its_launcher_is_gone():
    assert not launch._orphaned(os.getpid())()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert launch._orphaned(gone.pid)()


def test_a_diverged_loss_reaches_the_launcher_as_in_one_process(tmp_path, monkeypatch):
    store = toy_datastore(n_train=2, n_eval=1)
    files = launch._Files(tmp_path)
    NpzDatastore.write(files.data, CLASS_NAMES, {s: store.samples(s) for s in SPLITS})
    cfg = TrainConfig(tmp_path / "out", min_size=64, max_size=64, warmup_iters=2, epochs=1)
    files.config.write_text(json.dumps(launch.config_to_json(cfg)))
    real_build = train_module.build_model

    def nan_model(**kwargs):
        model = real_build(**kwargs)
        forward = model.forward
        model.forward = lambda images, targets=None: {
            k: v + float("nan") for k, v in forward(images, targets).items()
        }
        return model

    monkeypatch.setattr(train_module, "build_model", nan_model)
    with pytest.raises(NonFiniteLossError):
        launch.rank_main(["--work-dir", str(tmp_path)])
    with pytest.raises(NonFiniteLossError, match="loss is nan"):
        launch._outcome(files, 1)


def test_processes_that_exit_without_a_result_fail_with_their_output(tmp_path):
    files = launch._Files(tmp_path)
    files.output.write_text("x" * 10_000 + "\nValueError: the last words")
    with pytest.raises(launch.TrainingProcessesFailed, match="exited with 1") as failure:
        launch._outcome(files, 1)
    assert str(failure.value).endswith("ValueError: the last words")
    assert len(str(failure.value)) < launch.OUTPUT_TAIL_CHARS + 200
