"""Training throughput (images/s) and peak memory per backbone, batch 2, one process per backbone.

On CUDA when the machine has it (with the training's autocast), else on the CPU; peak memory is
the process's RSS, and on CUDA also the device's peak allocation.

Each backbone runs in its own child process so that its peak RSS is its own. Steps are real
train_one_epoch steps (AdamW, clipping, train_preset augmentation) on 512² CT slices with
synthetic lesions; the first step is a warm-up and is not timed.

Reproduce:
    .venv/bin/python bench/ml_training.py --threads 2 --steps 5 --sizes 512 256
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.ml.data import DetectionDataset, collate  # noqa: E402
from worker.ml.engine import make_grad_scaler, select_device, train_one_epoch  # noqa: E402
from worker.ml.model import BACKBONES, build_model  # noqa: E402
from worker.ml.synthetic import make_samples  # noqa: E402
from worker.ml.transforms import train_preset  # noqa: E402


def one(backbone: str, size: int, steps: int, threads: int, batch: int) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    samples = make_samples(batch * (steps + 1), seed=5)
    loader = torch.utils.data.DataLoader(
        DetectionDataset(samples, train_preset()), batch_size=batch, collate_fn=collate
    )
    device = select_device()
    model = build_model(num_classes=3, backbone=backbone, min_size=size, max_size=size).to(device)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    stamps: list[float] = []
    train_one_epoch(
        model,
        optimizer,
        loader,
        device,
        scaler=make_grad_scaler(device),
        warmup_iters=steps + 1,
        on_step=lambda step, losses: stamps.append(time.perf_counter()),
    )
    step_s = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
    return {
        "backbone": backbone,
        "size": size,
        "step_s": step_s,
        "images_per_s": batch / step_s,
        "device": device.type,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_cuda_mib": (
            torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None
        ),
    }


def run() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=5, help="timed steps after one warm-up step")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--sizes", type=int, nargs="+", default=[512])
    p.add_argument("--backbones", nargs="+", default=list(BACKBONES))
    p.add_argument("--child", nargs=2, metavar=("BACKBONE", "SIZE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        result = one(args.child[0], int(args.child[1]), args.steps, args.threads, args.batch)
        print(json.dumps(result))
        return
    print(f"torch {torch.__version__}, threads {args.threads}, batch {args.batch}, random init")
    for size in args.sizes:
        for backbone in args.backbones:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    backbone,
                    str(size),
                    "--steps",
                    str(args.steps),
                    "--threads",
                    str(args.threads),
                    "--batch",
                    str(args.batch),
                ],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            cuda = f", CUDA {r['peak_cuda_mib']:.0f} MiB" if r["peak_cuda_mib"] else ""
            print(
                f"{r['backbone']:24s} {r['size']:4d}px  {r['device']}  {r['step_s']:.2f} s/step  "
                f"{r['images_per_s']:.2f} img/s  peak RSS {r['peak_rss_mib']:.0f} MiB{cuda}"
            )
    print("command: .venv/bin/python bench/ml_training.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    run()
