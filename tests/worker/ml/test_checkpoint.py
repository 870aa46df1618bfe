from __future__ import annotations

import hashlib
import pathlib
import pickle

import pytest
import torch

from worker.ml import checkpoint
from worker.ml.checkpoint import (
    CorruptWeightsError,
    UnsafeWeightsError,
    load_weights,
    save_weights_atomic,
)


def _state() -> dict:
    return {
        "model": {"w": torch.arange(6.0).reshape(2, 3)},
        "config": {"backbone": "x"},
        "epoch": 3,
    }


def test_round_trip_returns_sha256_of_file(tmp_path):
    path = tmp_path / "m.pt"
    digest = save_weights_atomic(_state(), path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    loaded = load_weights(path, expected_sha256=digest)
    assert torch.equal(loaded["model"]["w"], _state()["model"]["w"])
    assert loaded["config"] == {"backbone": "x"} and loaded["epoch"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_checksum_mismatch_is_refused(tmp_path):
    path = tmp_path / "m.pt"
    digest = save_weights_atomic(_state(), path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptWeightsError):
        load_weights(path, expected_sha256=digest)


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "m.pt"
    save_weights_atomic(_state(), path)
    path.write_bytes(path.read_bytes()[:100])
    truncated_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(CorruptWeightsError):
        load_weights(path, expected_sha256=truncated_sha)


def test_crash_mid_write_leaves_no_final_and_no_temp_file(tmp_path, monkeypatch):
    def torn_save(obj, f):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.torch, "save", torn_save)
    with pytest.raises(OSError, match="disk full"):
        save_weights_atomic(_state(), tmp_path / "m.pt")
    assert list(tmp_path.iterdir()) == []


def test_crash_mid_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    digest = save_weights_atomic(_state(), path)

    def torn_save(obj, f):
        f.write(b"garbage")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.torch, "save", torn_save)
    with pytest.raises(KeyboardInterrupt):
        save_weights_atomic({"other": 1}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]
    assert load_weights(path, expected_sha256=digest)["epoch"] == 3


class _Payload:
    def __init__(self, sentinel: pathlib.Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (pathlib.Path.touch, (self.sentinel,))


@pytest.mark.parametrize("container", ["torch_zip", "raw_pickle"])
def test_malicious_pickle_does_not_execute_even_with_matching_sha(tmp_path, container):
    sentinel = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    if container == "torch_zip":
        torch.save({"model": _Payload(sentinel)}, path)
    else:
        path.write_bytes(pickle.dumps({"model": _Payload(sentinel)}))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(UnsafeWeightsError):
        load_weights(path, expected_sha256=digest)
    assert not sentinel.exists()


def test_malicious_pickle_with_unregistered_sha_is_refused_before_unpickling(tmp_path):
    sentinel = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"model": _Payload(sentinel)}, path)
    with pytest.raises(CorruptWeightsError):
        load_weights(path, expected_sha256="0" * 64)
    assert not sentinel.exists()
