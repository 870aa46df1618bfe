"""The tag classifier on synthetic slices: "nodule present" (1-3 synthetic nodules) against
clean real CT slices (64 train, 32 val, 32 test images). Prints test AUROC and F1 at the
val-chosen threshold, and the CPU seconds the classifier's training takes, min / median / max
over fresh runs (new slices, new seed). The demo's figures: ``bench/ml_demo_learning.py``.

    .venv/bin/python bench/ml_classifier.py --runs 3
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from worker.ml.classifier import ClassifierConfig, TagSample, train_classifier
from worker.ml.synthetic import make_samples


def _split(n: int, seed: int, first_id: int) -> list[TagSample]:
    lesions = make_samples(n // 2, seed=seed, first_id=first_id)
    clean = make_samples(n - n // 2, seed=seed + 1, first_id=first_id + n, count=(0, 0))
    return [
        TagSample(s.image, np.array([float(len(s.labels) > 0)], np.float32), s.image_id)
        for s in (*lesions, *clean)
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--train", type=int, default=64)
    p.add_argument("--held", type=int, default=32, help="val and test images each")
    p.add_argument("--budget", type=float, default=60.0, help="head training seconds at most")
    p.add_argument("--size", type=int, default=ClassifierConfig.size)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for run in range(args.runs):
        seed = 1000 * (run + 1)
        splits = {
            "train": _split(args.train, seed, 1),
            "val": _split(args.held, seed + 10, 10_000),
            "test": _split(args.held, seed + 20, 20_000),
        }
        cfg = ClassifierConfig(
            size=args.size,
            time_budget_s=args.budget,
            seed=run,
        )
        cpu, wall = time.process_time(), time.monotonic()
        with tempfile.TemporaryDirectory() as tmp:
            result = train_classifier(cfg, splits, ["nodule present"], Path(tmp) / "tags.pt")
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        test = result.metrics["test"]["tags"]["nodule present"]
        rows.append((test["auroc"]["value"], test["f1"]["value"], cpu, wall, result.steps))
        print(
            f"run {run + 1}: test AUROC {rows[-1][0]:.3f} F1 {rows[-1][1]:.3f} "
            f"(threshold {test['threshold']:.2f}, {test['images']} images) "
            f"features {result.feature_seconds:.0f} s, {result.steps} head steps in "
            f"{result.train_seconds:.0f} s; {cpu:.0f} CPU s, {wall:.0f} s wall in all"
        )
    columns = np.array(rows, dtype=np.float64)
    for name, k in (("test AUROC", 0), ("test F1", 1), ("CPU s", 2), ("wall s", 3)):
        lo, med, hi = np.min(columns[:, k]), np.median(columns[:, k]), np.max(columns[:, k])
        print(f"{name}: {lo:.3f} / {med:.3f} / {hi:.3f} (min / median / max)")
    print(f"load average {os.getloadavg()[0]:.1f}; command: python {' '.join(sys.argv)}")


if __name__ == "__main__":
    main()
