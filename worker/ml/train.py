"""Train a Mask R-CNN: data → loaders → model → optimizer → (fine-tune) → epochs → checkpoint.

Runs on one device, or under ``torchrun`` with DistributedDataParallel when ``WORLD_SIZE`` > 1
(only rank 0 evaluates and writes). From the command line it reads a directory written by
:meth:`worker.ml.data.NpzDatastore.write`::

    python -m worker.ml.train --data-dir DIR --output-dir OUT --time-budget 600
    torchrun --nproc-per-node 4 -m worker.ml.train --data-dir DIR --output-dir OUT --epochs 20

Optimiser: AdamW with a linear warm-up (first epoch) and gradient clipping (stable from
scratch, where SGD without warm-up diverges), then a per-epoch cosine decay over the epoch
count or the time budget, whichever ends first (with no epoch count, the time budget alone).
The model kept is that of the epoch where the smoothed ``val`` curve (an exponential moving
average, so one lucky evaluation on a small val is not mistaken for progress) is highest, or the
last epoch's when val holds fewer than ``min_val_lesions`` lesions; ``test`` is evaluated once,
on that model, for the report. Evaluation time is not counted in the time budget.

With ``resume_path``, the training state (model, optimiser, gradient scaler, random generators,
clock, curves and the kept model so far) is written there after every epoch, as torchvision's
detection references do; a later run with the same configuration resumes after the last
completed epoch instead of starting over (the learning rate is a function of the epoch and the
training time so far, both restored).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, Sampler

from radlabel.augmentation import AugmentationSettings
from radlabel.backbones import NAMES as BACKBONES
from worker.ml.checkpoint import load_training_state, load_weights, save_weights_atomic
from worker.ml.data import (
    Datastore,
    DetectionDataset,
    NpzDatastore,
    Sample,
    collate,
    resize_samples,
)
from worker.ml.engine import (
    Detections,
    evaluate,
    make_grad_scaler,
    select_device,
    train_one_epoch,
)
from worker.ml.evaluation import coco_metrics
from worker.ml.model import DEFAULT_BACKBONE, DEFAULT_SIZE, build_model, model_config
from worker.ml.transforms import eval_preset, train_preset

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, int, float, float], None]


class TrainingCancelled(Exception):
    """``should_stop`` asked to stop; nothing was written."""


@dataclass
class TrainConfig:
    output_dir: Path
    backbone: str = DEFAULT_BACKBONE
    pretrained_backbone: bool = False
    min_size: int = DEFAULT_SIZE
    max_size: int = DEFAULT_SIZE
    epochs: int | None = 10  # None: until the time budget is spent
    time_budget_s: float | None = None
    batch_size: int = 2
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_iters: int = 50
    max_norm: float = 10.0
    min_lr_factor: float = 0.05
    workers: int = 0
    seed: int = 0
    selection_metric: str = "segm_AP"
    selection_smoothing: float = 0.5  # weight of the newest epoch in the smoothed val curve
    min_val_lesions: int = 10  # below: keep the last epoch, val cannot rank epochs
    init_weights: Path | None = None
    init_sha256: str | None = None
    weights_name: str = "model.pt"
    eval_test_each_epoch: bool = False
    resume_path: Path | None = None  # training state, written each epoch, resumed from
    augmentation: AugmentationSettings = field(default_factory=AugmentationSettings)


@dataclass
class EpochRecord:
    epoch: int
    step: int
    elapsed_s: float
    mean_loss: float
    val: dict[str, float]
    test: dict[str, float] | None = None


@dataclass
class TrainResult:
    weights_path: Path
    sha256: str
    metrics: dict[str, dict[str, float]]  # split -> metric -> value
    loss_curve: list[tuple[int, float]]  # (global step, loss)
    history: list[EpochRecord] = field(default_factory=list)
    detections: dict[str, list[Detections]] = field(default_factory=dict)  # the kept model's
    best_epoch: int = 0
    steps: int = 0
    train_seconds: float = 0.0
    resumed_epochs: int = 0  # epochs restored from an earlier run's training state


@dataclass
class _Clock:
    """Training time and steps so far (evaluation excluded)."""

    epoch: int = 0
    steps: int = 0
    trained_s: float = 0.0
    epoch_start: float = 0.0

    def start_epoch(self, epoch: int) -> None:
        self.epoch, self.epoch_start = epoch, time.monotonic()

    def end_epoch(self, steps: int) -> None:
        self.steps += steps
        self.trained_s += time.monotonic() - self.epoch_start
        self.epoch_start = 0.0

    def elapsed(self) -> float:
        running = time.monotonic() - self.epoch_start if self.epoch_start else 0.0
        return self.trained_s + running


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def _load_init_weights(model: torch.nn.Module, path: Path, sha256: str) -> None:
    """Fine-tune start: copy every tensor whose name and shape match (new heads stay fresh)."""
    state = load_weights(path, expected_sha256=sha256)["model"]
    own = model.state_dict()
    kept = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(kept, strict=False)
    logger.info("initialised %d/%d tensors from %s", len(kept), len(own), path.name)


def _evaluate_split(
    model: torch.nn.Module,
    samples: Sequence[Sample],
    class_names: Sequence[str],
    device: torch.device,
    batch_size: int,
) -> tuple[dict[str, float], list[Detections]]:
    loader = DataLoader(
        DetectionDataset(samples, eval_preset()), batch_size=batch_size, collate_fn=collate
    )
    detections = evaluate(model, loader, device)
    return coco_metrics(samples, detections, class_names), detections


def _args(cfg: TrainConfig) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}


def _resume_key(cfg: TrainConfig) -> dict[str, Any]:
    """What must match for a training state to be resumed (not where files go)."""
    args = _args(cfg)
    for name in ("output_dir", "resume_path", "weights_name"):
        args.pop(name)
    return args


def _score(metrics: dict[str, float], name: str) -> float:
    value = metrics.get(name, math.nan)
    return value if math.isfinite(value) else -math.inf


@dataclass(frozen=True)
class _Held:
    """The held-out splits a training evaluates on."""

    class_names: list[str]
    val: Sequence[Sample]
    test: Sequence[Sample]

    @property
    def val_lesions(self) -> int:
        return sum(len(sample.labels) for sample in self.val)


@dataclass
class _Run:
    """What a training carries from epoch to epoch, and what a resume restores."""

    clock: _Clock = field(default_factory=_Clock)
    loss_curve: list[tuple[int, float]] = field(default_factory=list)
    history: list[EpochRecord] = field(default_factory=list)
    # smoothed val score, epoch, model state, val detections (None: kept before a resume)
    best: tuple[float, int, dict[str, Any], list[Detections] | None] | None = None
    smoothed: float | None = None
    first_epoch: int = 0


def _device(rank: int, world: int) -> torch.device:
    device = select_device()
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device


def _train_loader(
    cfg: TrainConfig, samples: Sequence[Sample], device: torch.device, world: int
) -> tuple[DataLoader[Any], Sampler[int], torch.Generator]:
    dataset = DetectionDataset(
        resize_samples(samples, cfg.min_size, cfg.max_size), train_preset(cfg.augmentation)
    )
    generator = torch.Generator().manual_seed(cfg.seed)
    sampler: Sampler[int] = (
        DistributedSampler(dataset, seed=cfg.seed)
        if world > 1
        else RandomSampler(dataset, generator=generator)
    )
    loader = DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        sampler=sampler,
        collate_fn=collate,
        num_workers=cfg.workers,
        pin_memory=device.type == "cuda",
        drop_last=len(dataset) >= cfg.batch_size * world,
    )
    return loader, sampler, generator


def _model(
    cfg: TrainConfig, config: dict[str, Any], device: torch.device, world: int
) -> torch.nn.Module:
    model: torch.nn.Module = build_model(**config)
    if cfg.init_weights is not None:
        if cfg.init_sha256 is None:
            raise ValueError("init_weights needs init_sha256")
        _load_init_weights(model, cfg.init_weights, cfg.init_sha256)
    model.to(device)
    if world > 1:
        if device.type == "cuda":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)  # type: ignore[no-untyped-call]
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    return model


def _resume(
    cfg: TrainConfig,
    config: dict[str, Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    generator: torch.Generator,
) -> _Run:
    """The run so far from ``cfg.resume_path`` (when it is for this configuration), else a new
    one."""
    run = _Run()
    resumed = load_training_state(cfg.resume_path) if cfg.resume_path else None
    if resumed is not None and (resumed["config"] != config or resumed["args"] != _resume_key(cfg)):
        logger.warning("training state %s is for another configuration", cfg.resume_path)
        resumed = None
    if resumed is None:
        return run
    _unwrap(model).load_state_dict(resumed["model"])
    optimizer.load_state_dict(resumed["optimizer"])
    if scaler is not None and resumed["scaler"] is not None:
        scaler.load_state_dict(resumed["scaler"])
    torch.set_rng_state(resumed["rng"])
    generator.set_state(resumed["sampler_rng"])
    run.clock.steps, run.clock.trained_s = resumed["steps"], resumed["trained_s"]
    run.loss_curve = [tuple(point) for point in resumed["loss_curve"]]
    run.history = [EpochRecord(**record) for record in resumed["history"]]
    run.smoothed, run.first_epoch = resumed["smoothed"], resumed["epoch"] + 1
    kept = resumed["best_model"]  # None: the last epoch's model is the kept one
    run.best = (
        resumed["best_score"],
        resumed["best_epoch"],
        kept if kept is not None else resumed["model"],
        None,
    )
    logger.info(
        "resumed after epoch %d (step %d, %.0fs trained)",
        resumed["epoch"],
        run.clock.steps,
        run.clock.trained_s,
    )
    return run


def _agree(flag: bool, world: int, device: torch.device) -> bool:
    """Every rank takes the same stop decision (any rank's True wins)."""
    if world == 1:
        return flag
    t = torch.tensor([int(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def _stop_check(
    cfg: TrainConfig,
    clock: _Clock,
    world: int,
    device: torch.device,
    should_stop: Callable[[], bool] | None,
) -> Callable[[], bool]:
    """Asked between steps: raises on a cancel, True once the time budget is spent."""

    def stop_requested() -> bool:
        if _agree(should_stop is not None and should_stop(), world, device):
            raise TrainingCancelled("training cancelled")
        return _agree(
            cfg.time_budget_s is not None and clock.elapsed() >= cfg.time_budget_s, world, device
        )

    return stop_requested


def _step_recorder(
    cfg: TrainConfig, run: _Run, total_steps: int | None, on_progress: ProgressCallback | None
) -> Callable[[int, dict[str, float]], None]:
    """Called after each step: the loss curve grows, and progress is reported."""
    clock = run.clock

    def on_step(step: int, losses: dict[str, float]) -> None:
        done = clock.steps + step + 1
        run.loss_curve.append((done, losses["loss"]))
        if on_progress is not None:
            elapsed = clock.elapsed()
            # Whichever ends first: the epoch count or the time budget.
            ends = []
            if total_steps is not None:
                ends.append((total_steps, elapsed / done * max(total_steps - done, 0)))
            if cfg.time_budget_s:
                remaining = max(cfg.time_budget_s - elapsed, 0.0)
                ends.append((done + round(remaining * done / max(elapsed, 1e-9)), remaining))
            total, eta = min(ends, key=lambda end: end[1])
            on_progress(clock.epoch, done, total, losses["loss"], eta)

    return on_step


def _set_learning_rate(
    cfg: TrainConfig, optimizer: torch.optim.Optimizer, epoch: int, progress: float
) -> None:
    """Cosine decay over the run's progress, after the first (warm-up) epoch."""
    if epoch > 0:
        factor = cfg.min_lr_factor + (1 - cfg.min_lr_factor) * 0.5 * (
            1 + math.cos(math.pi * progress)
        )
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr * factor


def _record_epoch(
    cfg: TrainConfig,
    run: _Run,
    net: torch.nn.Module,
    epoch: int,
    losses: list[float],
    held: _Held,
    device: torch.device,
) -> None:
    """Evaluate the epoch's model on ``val`` (and ``test`` when asked), and keep it when the
    smoothed val curve is at its best."""
    val, val_detections = _evaluate_split(net, held.val, held.class_names, device, cfg.batch_size)
    test = (
        _evaluate_split(net, held.test, held.class_names, device, cfg.batch_size)[0]
        if cfg.eval_test_each_epoch
        else None
    )
    clock = run.clock
    run.history.append(
        EpochRecord(
            epoch=epoch,
            step=clock.steps,
            elapsed_s=clock.trained_s,
            mean_loss=sum(losses) / len(losses),
            val=val,
            test=test,
        )
    )
    logger.info(
        "epoch %d step %d %.0fs loss %.3f val %s %.3f",
        epoch,
        clock.steps,
        clock.trained_s,
        run.history[-1].mean_loss,
        cfg.selection_metric,
        val.get(cfg.selection_metric, math.nan),
    )
    score = _score(val, cfg.selection_metric)
    if run.smoothed is None or not math.isfinite(run.smoothed):
        run.smoothed = score
    elif math.isfinite(score):
        run.smoothed += cfg.selection_smoothing * (score - run.smoothed)
    if run.best is None or held.val_lesions < cfg.min_val_lesions or run.smoothed >= run.best[0]:
        run.best = (run.smoothed, epoch, copy.deepcopy(net.state_dict()), val_detections)


def _save_training_state(
    path: Path,
    cfg: TrainConfig,
    config: dict[str, Any],
    run: _Run,
    net: torch.nn.Module,
    epoch: int,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    generator: torch.Generator,
) -> None:
    if run.best is None:
        raise RuntimeError("no model is kept yet")
    save_weights_atomic(
        {
            "config": config,
            "args": _resume_key(cfg),
            "epoch": epoch,
            "model": net.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": torch.get_rng_state(),
            "sampler_rng": generator.get_state(),
            "steps": run.clock.steps,
            "trained_s": run.clock.trained_s,
            "loss_curve": run.loss_curve,
            "history": [asdict(record) for record in run.history],
            "smoothed": run.smoothed,
            "best_score": run.best[0],
            "best_epoch": run.best[1],
            "best_model": run.best[2] if run.best[1] != epoch else None,
        },
        path,
    )


def _finish(
    cfg: TrainConfig,
    config: dict[str, Any],
    run: _Run,
    net: torch.nn.Module,
    held: _Held,
    device: torch.device,
) -> TrainResult:
    """Load the kept model, report it on ``test`` and write its checkpoint."""
    if run.best is None:
        raise RuntimeError("no training step was taken")
    _, best_epoch, state, val_detections = run.best
    net.load_state_dict(state)
    if val_detections is None:  # kept before a resume: its val detections were not stored
        val_detections = _evaluate_split(net, held.val, held.class_names, device, cfg.batch_size)[1]
    test_metrics, test_detections = _evaluate_split(
        net, held.test, held.class_names, device, cfg.batch_size
    )
    best_val = next(h.val for h in run.history if h.epoch == best_epoch)
    metrics = {"val": best_val, "test": test_metrics}
    clock = run.clock
    checkpoint = {
        "model": {k: v.detach().cpu() for k, v in state.items()},
        "config": config,
        "class_names": list(held.class_names),
        "epoch": best_epoch,
        "metrics": metrics,
        "args": _args(cfg),
        "steps": clock.steps,
        "train_seconds": clock.trained_s,
        "resumed_epochs": run.first_epoch,
    }
    weights_path = Path(cfg.output_dir) / cfg.weights_name
    sha256 = save_weights_atomic(checkpoint, weights_path)
    return TrainResult(
        weights_path=weights_path,
        sha256=sha256,
        metrics=metrics,
        loss_curve=run.loss_curve,
        history=run.history,
        detections={"val": val_detections, "test": test_detections},
        best_epoch=best_epoch,
        steps=clock.steps,
        train_seconds=clock.trained_s,
        resumed_epochs=run.first_epoch,
    )


def main(
    cfg: TrainConfig,
    datastore: Datastore,
    *,
    on_progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult | None:
    """Train, select on ``val``, report on ``test``; returns None on ranks other than 0."""
    if cfg.epochs is None and not cfg.time_budget_s:
        raise ValueError("give an epoch count, a time budget, or both")
    rank, world = _distributed()
    device = _device(rank, world)
    torch.manual_seed(cfg.seed + rank)

    class_names = datastore.class_names
    train_samples, val_samples = datastore.samples("train"), datastore.samples("val")
    held = _Held(list(class_names), val_samples, datastore.samples("test"))
    loader, sampler, generator = _train_loader(cfg, train_samples, device, world)
    config = model_config(
        num_classes=len(class_names) + 1,
        backbone=cfg.backbone,
        pretrained_backbone=cfg.pretrained_backbone,
        min_size=cfg.min_size,
        max_size=cfg.max_size,
    )
    model = _model(cfg, config, device, world)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scaler = make_grad_scaler(device)

    steps_per_epoch = max(len(loader), 1)
    total_steps = steps_per_epoch * cfg.epochs if cfg.epochs is not None else None
    start = time.monotonic()
    run = _resume(cfg, config, model, optimizer, scaler, generator)
    clock = run.clock
    on_step = _step_recorder(cfg, run, total_steps, on_progress)
    stop_requested = _stop_check(cfg, clock, world, device, should_stop)

    first = run.first_epoch
    epochs = itertools.count(first) if cfg.epochs is None else range(first, cfg.epochs)
    for epoch in epochs:
        progress = epoch / cfg.epochs if cfg.epochs is not None else 0.0
        if cfg.time_budget_s:
            progress = max(progress, clock.trained_s / cfg.time_budget_s)
        if _agree(progress >= 1.0, world, device):
            break
        _set_learning_rate(cfg, optimizer, epoch, progress)
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)
        clock.start_epoch(epoch)
        losses = train_one_epoch(
            model,
            optimizer,
            loader,
            device,
            scaler=scaler,
            warmup_iters=min(cfg.warmup_iters, steps_per_epoch) if epoch == 0 else 0,
            max_norm=cfg.max_norm,
            on_step=on_step,
            should_stop=stop_requested,
        )
        clock.end_epoch(len(losses))
        if rank == 0 and losses:
            net = _unwrap(model)
            _record_epoch(cfg, run, net, epoch, losses, held, device)
            if cfg.resume_path is not None:
                _save_training_state(
                    cfg.resume_path, cfg, config, run, net, epoch, optimizer, scaler, generator
                )
        if world > 1:
            dist.barrier()
    if rank != 0:
        return None
    result = _finish(cfg, config, run, _unwrap(model), held, device)
    logger.info(
        "trained %s in %.0fs: %s",
        result.weights_path.name,
        time.monotonic() - start,
        result.metrics,
    )
    return result


def get_args_parser() -> argparse.ArgumentParser:
    """The command line's options; their defaults are :class:`TrainConfig`'s."""
    d = {f.name: f.default for f in fields(TrainConfig)}
    p = argparse.ArgumentParser(description="Train Mask R-CNN on a directory of npz samples")
    p.add_argument(
        "--data-dir", type=Path, required=True, help="classes.json + {train,val,test}/*.npz"
    )
    p.add_argument("--output-dir", type=Path, required=True)
    p.add_argument("--backbone", default=d["backbone"], choices=BACKBONES)
    p.add_argument("--pretrained-backbone", action="store_true")
    p.add_argument("--min-size", type=int, default=d["min_size"])
    p.add_argument("--max-size", type=int, default=d["max_size"])
    p.add_argument("--epochs", type=int, default=d["epochs"])
    p.add_argument(
        "--time-budget", type=float, default=d["time_budget_s"], help="seconds of training"
    )
    p.add_argument("--batch-size", type=int, default=d["batch_size"], help="per process")
    p.add_argument("--lr", type=float, default=d["lr"])
    p.add_argument("--weight-decay", type=float, default=d["weight_decay"])
    p.add_argument("--warmup-iters", type=int, default=d["warmup_iters"])
    p.add_argument("--max-norm", type=float, default=d["max_norm"])
    p.add_argument("--workers", type=int, default=d["workers"])
    p.add_argument("--seed", type=int, default=d["seed"])
    p.add_argument(
        "--init-weights", type=Path, default=d["init_weights"], help="fine-tune from this file"
    )
    p.add_argument("--init-sha256", default=d["init_sha256"])
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        output_dir=args.output_dir,
        backbone=args.backbone,
        pretrained_backbone=args.pretrained_backbone,
        min_size=args.min_size,
        max_size=args.max_size,
        epochs=args.epochs,
        time_budget_s=args.time_budget,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        warmup_iters=args.warmup_iters,
        max_norm=args.max_norm,
        workers=args.workers,
        seed=args.seed,
        init_weights=args.init_weights,
        init_sha256=args.init_sha256,
    )


def cli(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = get_args_parser().parse_args(argv)
    result = main(config_from_args(args), NpzDatastore(args.data_dir))
    if result is not None:
        logger.info("weights %s sha256 %s", result.weights_path, result.sha256)
        logger.info("val %s", result.metrics["val"])
        logger.info("test %s", result.metrics["test"])
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    cli()
