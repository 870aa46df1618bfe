"""Training in N processes (``torchrun``) for a caller that runs in one: the training job.

:func:`train_in_processes` writes the datastore's samples as an npz directory and the whole
configuration as JSON into a fresh work folder, then runs::

    python -m torch.distributed.run --standalone --nproc-per-node N -m worker.ml.launch \\
        --work-dir DIR --launcher-pid PID

as a subprocess (nothing there imports Django) and follows it. Rank 0 appends each step's
progress to a file as a JSON line; the caller's ``on_progress`` is called with each line, so
heartbeats carry the epoch, step, ETA and loss as in one process, and an exception raised there
(a cancel heard in a heartbeat) stops the processes (SIGTERM to torchrun, which stops its
workers; SIGKILL if it lingers) and goes on. Rank 0 writes the :class:`TrainResult` as JSON when
it ends; a failure raises :class:`TrainingProcessesFailed` with the tail of their output (for
the log), a diverged loss :class:`NonFiniteLossError` as in one process. Each rank stops by
itself when its launcher or its torchrun agent is gone, so a killed worker leaves no training
running.

torchrun gives each process its rank; :func:`worker.ml.train.main` runs DistributedDataParallel
over them (NCCL when CUDA is present, one process a GPU; gloo on the CPU).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from radlabel.augmentation import AugmentationSettings
from worker.ml.data import SPLITS, Datastore, NpzDatastore
from worker.ml.engine import Detections, NonFiniteLossError
from worker.ml.train import EpochRecord, ProgressCallback, TrainConfig, TrainResult, main

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
POLL_SECONDS = 0.5  # how often the progress file is read
STOP_SECONDS = 40.0  # after SIGTERM (torchrun gives its workers 30 s), then SIGKILL
OUTPUT_TAIL_CHARS = 4000


class TrainingProcessesFailed(RuntimeError):
    """The training processes exited without a result; the message ends with their output."""


@dataclass(frozen=True)
class _Files:
    """What the launcher and the ranks share, inside one work folder."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def progress(self) -> Path:
        return self.root / "progress.jsonl"

    @property
    def result(self) -> Path:
        return self.root / "result.json"

    @property
    def output(self) -> Path:
        return self.root / "output.log"


def config_to_json(cfg: TrainConfig) -> dict[str, Any]:
    data = {f.name: getattr(cfg, f.name) for f in fields(cfg)}
    data["augmentation"] = cfg.augmentation.to_json()
    return {k: str(v) if isinstance(v, Path) else v for k, v in data.items()}


def config_from_json(data: dict[str, Any]) -> TrainConfig:
    values = dict(data)
    for f in fields(TrainConfig):
        if f.type in ("Path", "Path | None") and values[f.name] is not None:
            values[f.name] = Path(values[f.name])
    values["augmentation"] = AugmentationSettings.from_json(values["augmentation"])
    return TrainConfig(**values)


def _detections_to_json(found: Detections) -> dict[str, Any]:
    return {
        "image_id": found.image_id,
        "boxes": found.boxes.tolist(),
        "labels": found.labels.tolist(),
        "scores": found.scores.tolist(),
        "mask_rles": found.mask_rles,
    }


def _detections_from_json(data: dict[str, Any]) -> Detections:
    return Detections(
        image_id=int(data["image_id"]),
        boxes=np.asarray(data["boxes"], dtype=np.float32).reshape(-1, 4),
        labels=np.asarray(data["labels"], dtype=np.int64),
        scores=np.asarray(data["scores"], dtype=np.float32),
        mask_rles=data["mask_rles"],
    )


def result_to_json(result: TrainResult) -> dict[str, Any]:
    data = {f.name: getattr(result, f.name) for f in fields(result)}
    data["weights_path"] = str(result.weights_path)
    data["history"] = [asdict(record) for record in result.history]
    data["detections"] = {
        split: [_detections_to_json(found) for found in detections]
        for split, detections in result.detections.items()
    }
    return data


def result_from_json(data: dict[str, Any]) -> TrainResult:
    return TrainResult(
        **{
            **data,
            "weights_path": Path(data["weights_path"]),
            "loss_curve": [(int(step), float(loss)) for step, loss in data["loss_curve"]],
            "history": [EpochRecord(**record) for record in data["history"]],
            "detections": {
                split: [_detections_from_json(found) for found in detections]
                for split, detections in data["detections"].items()
            },
        }
    )


class _ProgressTail:
    """The complete lines appended to the progress file since the last read."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.partial = path, 0, b""

    def read(self) -> list[list[Any]]:
        if not self.path.exists():
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        self.offset += len(chunk)
        *complete, self.partial = (self.partial + chunk).split(b"\n")
        return [json.loads(line) for line in complete if line]


def _command(processes: int, files: _Files) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={processes}",
        "-m",
        "worker.ml.launch",
        "--work-dir",
        str(files.root),
        "--launcher-pid",
        str(os.getpid()),
    ]


def _environment(processes: int) -> dict[str, str]:
    """The caller's, with the CPU threads shared out (torchrun would give each process one)."""
    threads = max((os.cpu_count() or 1) // processes, 1)
    return {"OMP_NUM_THREADS": str(threads), **os.environ}


def _follow(
    process: subprocess.Popen[bytes], tail: _ProgressTail, on_progress: ProgressCallback | None
) -> None:
    """Pass each progress line to ``on_progress`` until the processes exit."""
    while True:
        exited = process.poll() is not None
        for values in tail.read():
            if on_progress is not None:
                on_progress(*values)
        if exited:
            return
        time.sleep(POLL_SECONDS)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        logger.warning("torchrun (pid %s) ignored SIGTERM; killing it", process.pid)
        process.kill()
        process.wait()


def _output_tail(path: Path) -> str:
    with open(path, "rb") as f:
        f.seek(max(path.stat().st_size - OUTPUT_TAIL_CHARS, 0))
        return f.read().decode(errors="replace")


def _outcome(files: _Files, returncode: int) -> TrainResult:
    written = json.loads(files.result.read_text()) if files.result.exists() else {}
    if "diverged" in written:
        raise NonFiniteLossError(written["diverged"])
    if returncode != 0 or "result" not in written:
        raise TrainingProcessesFailed(
            f"the training processes exited with {returncode} and no result; "
            f"their output ends:\n{_output_tail(files.output)}"
        )
    return result_from_json(written["result"])


def train_in_processes(
    cfg: TrainConfig,
    datastore: Datastore,
    *,
    processes: int,
    work_dir: Path,
    on_progress: ProgressCallback | None = None,
) -> TrainResult:
    """Train as :func:`worker.ml.train.main` would, in ``processes`` processes under torchrun;
    ``work_dir`` (created here, must not exist) holds what they share."""
    if processes < 2:
        raise ValueError("train in processes with 2 or more of them")
    gpus = torch.cuda.device_count()
    if torch.cuda.is_available() and processes > gpus:
        raise ValueError(f"{processes} training processes for {gpus} GPUs: one process a GPU")
    files = _Files(Path(work_dir))
    files.root.mkdir(parents=True)
    NpzDatastore.write(
        files.data, datastore.class_names, {split: datastore.samples(split) for split in SPLITS}
    )
    files.config.write_text(json.dumps(config_to_json(cfg)))
    started = time.monotonic()
    with open(files.output, "wb") as output:
        process = subprocess.Popen(
            _command(processes, files),
            cwd=ROOT,
            env=_environment(processes),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    logger.info("training in %d processes (torchrun pid %s)", processes, process.pid)
    try:
        _follow(process, _ProgressTail(files.progress), on_progress)
    finally:
        _stop(process)
    logger.info(
        "training processes exited with %s after %.0fs",
        process.returncode,
        time.monotonic() - started,
    )
    return _outcome(files, process.returncode)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _orphaned(launcher_pid: int | None) -> Callable[[], bool]:
    """True once this rank's torchrun agent or the launcher behind it is gone."""
    agent = os.getppid()

    def orphaned() -> bool:
        return os.getppid() != agent or (launcher_pid is not None and not _alive(launcher_pid))

    return orphaned


def _progress_writer(path: Path) -> ProgressCallback:
    def write(epoch: int, step: int, total: int, loss: float, eta: float) -> None:
        with open(path, "a") as f:
            f.write(json.dumps([epoch, step, total, loss, eta]) + "\n")

    return write


def _write_json(path: Path, data: dict[str, Any], rank: int) -> None:
    tmp = path.with_name(f".{path.name}.{rank}")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def rank_main(argv: Sequence[str] | None = None) -> None:
    """One rank, as torchrun starts it: train from the work folder, rank 0 reports."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(description="One training process of train_in_processes")
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--launcher-pid", type=int, help="stop when this process is gone")
    args = parser.parse_args(argv)
    files = _Files(args.work_dir)
    cfg = config_from_json(json.loads(files.config.read_text()))
    rank = int(os.environ.get("RANK", "0"))
    try:
        result = main(
            cfg,
            NpzDatastore(files.data),
            on_progress=_progress_writer(files.progress) if rank == 0 else None,
            should_stop=_orphaned(args.launcher_pid),
        )
    except NonFiniteLossError as error:
        _write_json(files.result, {"diverged": str(error)}, rank)
        raise
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if result is not None:
        _write_json(files.result, {"result": result_to_json(result)}, rank)


if __name__ == "__main__":
    rank_main()
