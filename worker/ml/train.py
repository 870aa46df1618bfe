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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from worker.ml.checkpoint import load_training_state, load_weights, save_weights_atomic
from worker.ml.data import Datastore, DetectionDataset, NpzDatastore, collate, resize_samples
from worker.ml.engine import (
    Detections,
    evaluate,
    make_grad_scaler,
    select_device,
    train_one_epoch,
)
from worker.ml.evaluation import coco_metrics
from worker.ml.model import BACKBONES, build_model, model_config
from worker.ml.transforms import eval_preset, train_preset

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, int, float, float], None]


class TrainingCancelled(Exception):
    """``should_stop`` asked to stop; nothing was written."""


@dataclass
class TrainConfig:
    output_dir: Path
    backbone: str = "resnet18_fpn"
    pretrained_backbone: bool = False
    min_size: int = 512
    max_size: int = 512
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
    model, samples, class_names, device, batch_size
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
    device = select_device()
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    torch.manual_seed(cfg.seed + rank)

    class_names = datastore.class_names
    train_samples, val_samples = datastore.samples("train"), datastore.samples("val")
    test_samples = datastore.samples("test")
    dataset = DetectionDataset(
        resize_samples(train_samples, cfg.min_size, cfg.max_size), train_preset()
    )
    generator = torch.Generator().manual_seed(cfg.seed)
    sampler = (
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

    config = model_config(
        num_classes=len(class_names) + 1,
        backbone=cfg.backbone,
        pretrained_backbone=cfg.pretrained_backbone,
        min_size=cfg.min_size,
        max_size=cfg.max_size,
    )
    model = build_model(**config)
    if cfg.init_weights is not None:
        if cfg.init_sha256 is None:
            raise ValueError("init_weights needs init_sha256")
        _load_init_weights(model, cfg.init_weights, cfg.init_sha256)
    model.to(device)
    if world > 1:
        if device.type == "cuda":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scaler = make_grad_scaler(device)

    steps_per_epoch = max(len(loader), 1)
    total_steps = steps_per_epoch * cfg.epochs if cfg.epochs is not None else None
    val_lesions = sum(len(sample.labels) for sample in val_samples)
    start = time.monotonic()
    clock = _Clock()
    loss_curve: list[tuple[int, float]] = []
    history: list[EpochRecord] = []
    best: tuple[float, int, dict[str, Any], list[Detections] | None] | None = None
    smoothed: float | None = None
    first_epoch = 0
    resumed = load_training_state(cfg.resume_path) if cfg.resume_path else None
    if resumed is not None and (resumed["config"] != config or resumed["args"] != _resume_key(cfg)):
        logger.warning("training state %s is for another configuration", cfg.resume_path)
        resumed = None
    if resumed is not None:
        _unwrap(model).load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        if scaler is not None and resumed["scaler"] is not None:
            scaler.load_state_dict(resumed["scaler"])
        torch.set_rng_state(resumed["rng"])
        generator.set_state(resumed["sampler_rng"])
        clock.steps, clock.trained_s = resumed["steps"], resumed["trained_s"]
        loss_curve = [tuple(point) for point in resumed["loss_curve"]]
        history = [EpochRecord(**record) for record in resumed["history"]]
        smoothed, first_epoch = resumed["smoothed"], resumed["epoch"] + 1
        kept = resumed["best_model"]  # None: the last epoch's model is the kept one
        best = (
            resumed["best_score"],
            resumed["best_epoch"],
            kept if kept is not None else resumed["model"],
            None,
        )
        logger.info(
            "resumed after epoch %d (step %d, %.0fs trained)",
            resumed["epoch"],
            clock.steps,
            clock.trained_s,
        )

    def agree(flag: bool) -> bool:
        """Every rank takes the same stop decision (any rank's True wins)."""
        if world == 1:
            return flag
        t = torch.tensor([int(flag)], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def stop_requested() -> bool:
        if agree(should_stop is not None and should_stop()):
            raise TrainingCancelled("training cancelled")
        return agree(cfg.time_budget_s is not None and clock.elapsed() >= cfg.time_budget_s)

    def on_step(step: int, losses: dict[str, float]) -> None:
        done = clock.steps + step + 1
        loss_curve.append((done, losses["loss"]))
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

    epochs = itertools.count(first_epoch) if cfg.epochs is None else range(first_epoch, cfg.epochs)
    for epoch in epochs:
        progress = epoch / cfg.epochs if cfg.epochs is not None else 0.0
        if cfg.time_budget_s:
            progress = max(progress, clock.trained_s / cfg.time_budget_s)
        if agree(progress >= 1.0):
            break
        if epoch > 0:
            factor = cfg.min_lr_factor + (1 - cfg.min_lr_factor) * 0.5 * (
                1 + math.cos(math.pi * progress)
            )
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr * factor
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
            val, val_detections = _evaluate_split(
                net, val_samples, class_names, device, cfg.batch_size
            )
            test = (
                _evaluate_split(net, test_samples, class_names, device, cfg.batch_size)[0]
                if cfg.eval_test_each_epoch
                else None
            )
            history.append(
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
                history[-1].mean_loss,
                cfg.selection_metric,
                val.get(cfg.selection_metric, math.nan),
            )
            score = _score(val, cfg.selection_metric)
            if smoothed is None or not math.isfinite(smoothed):
                smoothed = score
            elif math.isfinite(score):
                smoothed += cfg.selection_smoothing * (score - smoothed)
            if best is None or val_lesions < cfg.min_val_lesions or smoothed >= best[0]:
                best = (smoothed, epoch, copy.deepcopy(net.state_dict()), val_detections)
            if cfg.resume_path is not None:
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
                        "steps": clock.steps,
                        "trained_s": clock.trained_s,
                        "loss_curve": loss_curve,
                        "history": [asdict(record) for record in history],
                        "smoothed": smoothed,
                        "best_score": best[0],
                        "best_epoch": best[1],
                        "best_model": best[2] if best[1] != epoch else None,
                    },
                    cfg.resume_path,
                )
        if world > 1:
            dist.barrier()
    if rank != 0:
        return None
    if best is None:
        raise RuntimeError("no training step was taken")

    _, best_epoch, state, val_detections = best
    net = _unwrap(model)
    net.load_state_dict(state)
    if val_detections is None:  # kept before a resume: its val detections were not stored
        val_detections = _evaluate_split(net, val_samples, class_names, device, cfg.batch_size)[1]
    test_metrics, test_detections = _evaluate_split(
        net, test_samples, class_names, device, cfg.batch_size
    )
    metrics = {"val": next(h.val for h in history if h.epoch == best_epoch), "test": test_metrics}
    checkpoint = {
        "model": {k: v.detach().cpu() for k, v in state.items()},
        "config": config,
        "class_names": list(class_names),
        "epoch": best_epoch,
        "metrics": metrics,
        "args": _args(cfg),
        "steps": clock.steps,
        "train_seconds": clock.trained_s,
        "resumed_epochs": first_epoch,
    }
    weights_path = Path(cfg.output_dir) / cfg.weights_name
    sha256 = save_weights_atomic(checkpoint, weights_path)
    logger.info("trained %s in %.0fs: %s", weights_path.name, time.monotonic() - start, metrics)
    return TrainResult(
        weights_path=weights_path,
        sha256=sha256,
        metrics=metrics,
        loss_curve=loss_curve,
        history=history,
        detections={"val": val_detections, "test": test_detections},
        best_epoch=best_epoch,
        steps=clock.steps,
        train_seconds=clock.trained_s,
        resumed_epochs=first_epoch,
    )


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Train Mask R-CNN on a directory of npz samples")
    p.add_argument(
        "--data-dir", type=Path, required=True, help="classes.json + {train,val,test}/*.npz"
    )
    p.add_argument("--output-dir", type=Path, required=True)
    p.add_argument("--backbone", default="resnet18_fpn", choices=BACKBONES)
    p.add_argument("--pretrained-backbone", action="store_true")
    p.add_argument("--min-size", type=int, default=512)
    p.add_argument("--max-size", type=int, default=512)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--time-budget", type=float, default=None, help="seconds of training")
    p.add_argument("--batch-size", type=int, default=2, help="per process")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--warmup-iters", type=int, default=50)
    p.add_argument("--max-norm", type=float, default=10.0)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init-weights", type=Path, default=None, help="fine-tune from this file")
    p.add_argument("--init-sha256", default=None)
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
