"""Augmentation throughput against the training step: is augmentation the bottleneck?

For each image size: samples per second through the training augmentation (one thread, as one
DataLoader worker runs it; the sample's tensors built as ``DetectionDataset`` builds them), with
no op, the defaults, and every op on at its default strength and probability 1 (the worst
case); and the training step of the default detector at that size (forward with losses,
backward, AdamW, ``--threads`` threads, batch ``--batch``) in images per second. The share is
augmentation time over step time per image: under 1, a single loader worker keeps up with the
step. Each figure is the min / median / max over ``--repeats`` rounds.

Reproduce:
    .venv/bin/python bench/augmentation.py --sizes 256 512 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from radlabel.augmentation import OPS, AugmentationSettings  # noqa: E402
from worker.ml.data import DetectionDataset, collate, resize_samples  # noqa: E402
from worker.ml.model import DEFAULT_BACKBONE, PRETRAINED, build_model, model_config  # noqa: E402
from worker.ml.synthetic import make_samples  # noqa: E402
from worker.ml.transforms import train_preset  # noqa: E402

PRESETS = {
    "none": AugmentationSettings({k: replace(s.default, enabled=False) for k, s in OPS.items()}),
    "defaults": AugmentationSettings(),
    "all ops, p=1": AugmentationSettings(
        {k: replace(s.default, enabled=True, probability=1.0) for k, s in OPS.items()}
    ),
}


def spread(values: list[float]) -> str:
    return f"{min(values):.1f} / {statistics.median(values):.1f} / {max(values):.1f}"


def augment_rate(samples, settings: AugmentationSettings, n: int) -> float:
    """Samples per second through ``settings``' preset, one thread."""
    dataset = DetectionDataset(samples, train_preset(settings))
    dataset[0]  # warm-up
    t0 = time.perf_counter()
    for i in range(n):
        dataset[i % len(samples)]
    return n / (time.perf_counter() - t0)


def step_rate(samples, size: int, batch: int, steps: int, threads: int) -> float:
    """Training images per second of the default detector at ``size``."""
    torch.set_num_threads(threads)
    model = build_model(
        **model_config(
            num_classes=3,
            backbone=DEFAULT_BACKBONE,
            min_size=size,
            max_size=size,
            pretrained_backbone=DEFAULT_BACKBONE in PRETRAINED,
        )
    ).train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    loader = torch.utils.data.DataLoader(
        DetectionDataset(samples, train_preset()), batch_size=batch, collate_fn=collate
    )
    batches = iter(loader)

    def step() -> None:
        images, targets = next(batches)
        loss = sum(model(list(images), list(targets)).values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - t0)


def run() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    p.add_argument("--samples", type=int, default=100, help="augmented samples per round")
    p.add_argument("--steps", type=int, default=3, help="timed training steps per round")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--threads", type=int, default=2, help="threads of the training step")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    print(
        f"torch {torch.__version__}; augmentation on 1 thread, {args.samples} samples a round; "
        f"training step of {DEFAULT_BACKBONE} on {args.threads} threads, batch {args.batch}, "
        f"{args.steps} steps a round; min / median / max of {args.repeats} rounds"
    )
    for size in args.sizes:
        samples = resize_samples(make_samples(20, seed=5, size=size), size, size)
        torch.set_num_threads(1)
        rates = {
            name: [augment_rate(samples, s, args.samples) for _ in range(args.repeats)]
            for name, s in PRESETS.items()
        }
        pool = samples * (1 + args.batch * (args.steps + 1) // len(samples))
        steps = [
            step_rate(pool, size, args.batch, args.steps, args.threads) for _ in range(args.repeats)
        ]
        step_ms = 1000 / statistics.median(steps)
        print(f"\n{size} px: training step {spread(steps)} images/s ({step_ms:.0f} ms an image)")
        for name, values in rates.items():
            ms = 1000 / statistics.median(values)
            print(
                f"  augmentation {name:<13} {spread(values)} samples/s "
                f"({ms:.1f} ms a sample, {ms / step_ms:.1%} of the step's time an image)"
            )
    print("\nreproduce: .venv/bin/python bench/augmentation.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    run()
