from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from worker.ml import train as train_module
from worker.ml.checkpoint import load_weights
from worker.ml.data import NpzDatastore
from worker.ml.engine import NonFiniteLossError
from worker.ml.predictor import Predictor
from worker.ml.train import TrainConfig, TrainingCancelled, cli, main

from .conftest import CLASS_NAMES, toy_datastore

ROOT = Path(__file__).resolve().parents[3]


def _cfg(tmp_path, **kwargs) -> TrainConfig:
    return TrainConfig(
        output_dir=tmp_path / "out", min_size=64, max_size=64, warmup_iters=2, **kwargs
    )


@pytest.mark.slow
def test_main_trains_selects_on_val_and_writes_a_verified_checkpoint(tmp_path):
    progress = []
    result = main(
        _cfg(tmp_path, epochs=2), toy_datastore(), on_progress=lambda *a: progress.append(a)
    )
    assert result is not None and result.steps == 4
    assert [p[1] for p in progress] == [1, 2, 3, 4] and all(p[2] == 4 for p in progress)
    assert [step for step, _ in result.loss_curve] == [1, 2, 3, 4]
    assert set(result.metrics) == {"val", "test"} and "segm_AP" in result.metrics["test"]
    assert [h.epoch for h in result.history] == [0, 1]
    assert [p.name for p in result.weights_path.parent.iterdir()] == ["model.pt"]
    checkpoint = load_weights(result.weights_path, expected_sha256=result.sha256)
    assert checkpoint["class_names"] == CLASS_NAMES and checkpoint["config"]["num_classes"] == 3
    predictor = Predictor(result.weights_path, expected_sha256=result.sha256)
    assert len(predictor.predict([toy_datastore().samples("test")[0].image])) == 1


@pytest.mark.slow
def test_fine_tune_starts_from_given_weights(tmp_path):
    store = toy_datastore(n_train=2, n_eval=1)
    first = main(_cfg(tmp_path / "a", epochs=1), store)
    cfg = _cfg(
        tmp_path / "b", epochs=1, init_weights=first.weights_path, init_sha256=first.sha256, lr=0.0
    )
    second = main(cfg, store)
    a = load_weights(first.weights_path, expected_sha256=first.sha256)["model"]
    b = load_weights(second.weights_path, expected_sha256=second.sha256)["model"]
    assert torch.equal(
        a["backbone.fpn.layer_blocks.0.0.weight"], b["backbone.fpn.layer_blocks.0.0.weight"]
    )


def test_nan_loss_raises_and_writes_nothing(tmp_path, monkeypatch):
    real_build = train_module.build_model

    def nan_model(**kwargs):
        model = real_build(**kwargs)
        forward = model.forward

        def nan_forward(images, targets=None):
            out = forward(images, targets)
            if model.training:
                out["loss_classifier"] = out["loss_classifier"] + float("nan")
            return out

        model.forward = nan_forward
        return model

    monkeypatch.setattr(train_module, "build_model", nan_model)
    with pytest.raises(NonFiniteLossError):
        main(_cfg(tmp_path, epochs=2), toy_datastore(n_train=2, n_eval=1))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_cancellation_raises_and_writes_nothing(tmp_path):
    calls = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(TrainingCancelled):
        main(_cfg(tmp_path, epochs=3), toy_datastore(), should_stop=should_stop)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_time_budget_stops_training(tmp_path):
    result = main(_cfg(tmp_path, epochs=50, time_budget_s=0.5), toy_datastore(n_train=2, n_eval=1))
    assert result is not None and 1 <= len(result.history) < 50


def test_cli_trains_from_an_npz_directory(tmp_path):
    store = toy_datastore(n_train=2, n_eval=1)
    NpzDatastore.write(
        tmp_path / "data",
        store.class_names,
        {s: store.samples(s) for s in ("train", "val", "test")},
    )
    assert len(NpzDatastore(tmp_path / "data").samples("train")) == 2
    cli(
        [
            "--data-dir",
            str(tmp_path / "data"),
            "--output-dir",
            str(tmp_path / "out"),
            "--epochs",
            "1",
            "--min-size",
            "64",
            "--max-size",
            "64",
            "--warmup-iters",
            "2",
        ]
    )
    assert (tmp_path / "out" / "model.pt").exists()


@pytest.mark.slow
def test_module_help_runs():
    out = subprocess.run(
        [sys.executable, "-m", "worker.ml.train", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "--time-budget" in out.stdout and "--data-dir" in out.stdout


class _VirtualTime:
    """A clock that moves one second per training step (and not otherwise)."""

    now = 0.0

    @classmethod
    def monotonic(cls) -> float:
        return cls.now


@pytest.mark.slow
def test_a_time_budget_alone_trains_past_the_default_epoch_count(tmp_path, monkeypatch):
    real_epoch = train_module.train_one_epoch

    def one_second_steps(*args, on_step, **kwargs):
        def step(index, losses):
            _VirtualTime.now += 1.0
            on_step(index, losses)

        return real_epoch(*args, on_step=step, **kwargs)

    _VirtualTime.now = 0.0
    monkeypatch.setattr(train_module, "time", _VirtualTime)
    monkeypatch.setattr(train_module, "train_one_epoch", one_second_steps)
    progress = []
    result = main(
        _cfg(tmp_path, epochs=None, time_budget_s=24),
        toy_datastore(n_train=2, n_eval=1),  # one step an epoch
        on_progress=lambda *a: progress.append(a),
    )
    assert len(result.history) == result.steps == 24, "24 one-step epochs fit in 24 s"
    epoch, step, total, _, eta = progress[-1]
    assert (epoch, step, total, eta) == (23, 24, 24, 0.0), "progress follows the budget"
    assert progress[5][2] == 24 and progress[5][4] == 18.0


def test_no_epoch_count_needs_a_time_budget(tmp_path):
    with pytest.raises(ValueError, match="time budget"):
        main(_cfg(tmp_path, epochs=None), toy_datastore(n_train=2, n_eval=1))


LUCKY_VAL_CURVE = [0.0, 0.33, 0.0, 0.25, 0.3, 0.1]  # smoothed (weight 0.5), it peaks at 4


@pytest.mark.slow
@pytest.mark.parametrize(("min_val_lesions", "kept"), [(1, 4), (100, 5)])
def test_one_lucky_evaluation_is_not_the_model_kept(tmp_path, monkeypatch, min_val_lesions, kept):
    """Val segm AP jumps to 0.33 once on a small val: neither that epoch nor noise is kept."""
    curve = iter(LUCKY_VAL_CURVE)

    def scripted(model, samples, class_names, device, batch_size):
        if samples[0].image_id >= 200:  # test, evaluated once at the end
            return {"segm_AP": 0.5}, []
        return {"segm_AP": next(curve)}, []

    monkeypatch.setattr(train_module, "_evaluate_split", scripted)
    result = main(
        _cfg(tmp_path, epochs=6, min_val_lesions=min_val_lesions),
        toy_datastore(n_train=2, n_eval=1),  # val: one image, two lesions
    )
    assert result.best_epoch == kept
    assert result.metrics["val"]["segm_AP"] == LUCKY_VAL_CURVE[kept]
