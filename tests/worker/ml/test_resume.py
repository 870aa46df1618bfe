from __future__ import annotations

import pytest
import torch

from worker.ml.checkpoint import load_weights
from worker.ml.train import TrainConfig, main

from .conftest import toy_datastore


class _Died(Exception):
    """Stands for the worker process dying mid-epoch."""


def _cfg(tmp_path, name: str, **kwargs) -> TrainConfig:
    options = {"min_size": 64, "max_size": 64, "warmup_iters": 2, "epochs": 3, **kwargs}
    return TrainConfig(
        output_dir=tmp_path / name, resume_path=tmp_path / "state" / "training.pth", **options
    )


def _die_at(step: int):
    def on_progress(epoch, done, total, loss, eta) -> None:
        if done == step:
            raise _Died

    return on_progress


@pytest.mark.slow
def test_a_run_that_died_resumes_after_its_last_epoch_and_matches_an_unbroken_run(tmp_path):
    store = toy_datastore()  # 4 train images, batch 2: 2 steps per epoch
    with pytest.raises(_Died):
        main(_cfg(tmp_path, "a"), store, on_progress=_die_at(5))  # in the third epoch
    steps_seen = []
    resumed = main(
        _cfg(tmp_path, "b"), store, on_progress=lambda _e, done, *_: steps_seen.append(done)
    )
    assert resumed.resumed_epochs == 2
    assert steps_seen == [5, 6], "only the unfinished epoch is trained again"
    assert resumed.steps == 6 and [h.epoch for h in resumed.history] == [0, 1, 2]
    assert [step for step, _ in resumed.loss_curve] == [1, 2, 3, 4, 5, 6]

    unbroken = main(
        TrainConfig(output_dir=tmp_path / "c", min_size=64, max_size=64, warmup_iters=2, epochs=3),
        store,
    )
    assert unbroken.resumed_epochs == 0
    a = load_weights(resumed.weights_path, expected_sha256=resumed.sha256)
    b = load_weights(unbroken.weights_path, expected_sha256=unbroken.sha256)
    assert a["resumed_epochs"] == 2 and b["resumed_epochs"] == 0
    assert a["epoch"] == b["epoch"]
    for name, tensor in b["model"].items():
        assert torch.allclose(a["model"][name], tensor, atol=1e-5), name


def test_a_state_for_another_configuration_is_not_resumed(tmp_path):
    store = toy_datastore(n_train=2, n_eval=1)
    main(_cfg(tmp_path, "a", epochs=1), store)
    other = main(_cfg(tmp_path, "b", epochs=1, lr=5e-4), store)
    assert other.resumed_epochs == 0 and other.steps == 1


def test_an_unreadable_state_starts_over(tmp_path):
    cfg = _cfg(tmp_path, "a", epochs=1)
    cfg.resume_path.parent.mkdir(parents=True)
    cfg.resume_path.write_bytes(b"not a checkpoint")
    result = main(cfg, toy_datastore(n_train=2, n_eval=1))
    assert result.resumed_epochs == 0 and result.steps == 1
