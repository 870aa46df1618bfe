"""Learning demo: Mask R-CNN (ResNet-18 FPN, random init) learns synthetic nodules on real CT.

Synthetic solid and ground-glass nodules with exact masks are placed on the real CT slices shipped
in pydicom-data (see worker/ml/synthetic.py); train/val/test use different seeds, so lesions
differ between splits while the few background slices are shared. Training runs under a time
budget on this machine's CPU; test bbox/segm AP is measured after every epoch.

Reproduce:
    .venv/bin/python bench/ml_demo_learning.py --budget 600 --threads 2
    .venv/bin/python bench/ml_demo_learning.py --budget 600 --threads 2 \
        --backbone efficientnet_lite0_fpn --pretrained-backbone --output-dir var/ml-demo-lite0
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from worker.ml.data import InMemoryDatastore  # noqa: E402
from worker.ml.synthetic import CLASS_NAMES, make_samples  # noqa: E402
from worker.ml.train import TrainConfig, main  # noqa: E402


def run() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--budget", type=float, default=600.0, help="training seconds")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--train", type=int, default=60)
    p.add_argument("--val", type=int, default=15)
    p.add_argument("--test", type=int, default=15)
    p.add_argument("--size", type=int, default=256, help="model min_size/max_size (slices are 512)")
    p.add_argument("--backbone", default="resnet18_fpn")
    p.add_argument("--pretrained-backbone", action="store_true")
    p.add_argument("--output-dir", type=Path, default=Path("var/ml-demo"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    t0 = time.monotonic()
    splits = {
        "train": make_samples(args.train, seed=1, first_id=1),
        "val": make_samples(args.val, seed=2, first_id=10_001),
        "test": make_samples(args.test, seed=3, first_id=20_001),
    }
    n_lesions = {k: sum(len(s.labels) for s in v) for k, v in splits.items()}
    print(
        f"data: { ({k: len(v) for k, v in splits.items()}) } slices 512², lesions {n_lesions}, "
        f"made in {time.monotonic() - t0:.1f}s"
    )

    cfg = TrainConfig(
        output_dir=args.output_dir,
        backbone=args.backbone,
        pretrained_backbone=args.pretrained_backbone,
        min_size=args.size,
        max_size=args.size,
        epochs=1000,
        time_budget_s=args.budget,
        eval_test_each_epoch=True,
    )
    result = main(cfg, InMemoryDatastore(CLASS_NAMES, splits))
    if result is None:
        return
    print(
        "epoch  step  train_s  loss    val_segm_AP50  test_bbox_AP50  test_segm_AP  test_segm_AP50"
    )
    for h in result.history:
        t = h.test or {}
        print(
            f"{h.epoch:5d} {h.step:5d} {h.elapsed_s:8.0f} {h.mean_loss:6.3f} "
            f"{h.val['segm_AP50']:14.3f} {t.get('bbox_AP50', float('nan')):15.3f} "
            f"{t.get('segm_AP', float('nan')):13.3f} {t.get('segm_AP50', float('nan')):15.3f}"
        )
    test = result.metrics["test"]
    print(
        f"selected epoch {result.best_epoch} (best val segm_AP); steps {result.steps}; "
        f"train {result.train_seconds:.0f}s; wall {time.monotonic() - t0:.0f}s"
    )
    print("test: " + ", ".join(f"{k}={v:.3f}" for k, v in test.items()))
    print(f"weights {result.weights_path} sha256 {result.sha256}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB; torch {torch.__version__}, threads {args.threads}")
    print("command: .venv/bin/python bench/ml_demo_learning.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    run()
