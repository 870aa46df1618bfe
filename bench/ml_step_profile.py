"""Where one Mask R-CNN training step spends its time, per backbone (torch.profiler).

Each backbone runs in its own child process: a few untimed warm-up steps, then ``--steps``
profiled steps of the real loop's work (forward with losses, backward, clipping, AdamW) on
demo-like data (real CT slices with synthetic nodules, train augmentation, resized once to the
model size as training does). Forward time per module is the span of the module's forward
(inclusive of its children; the trunk is ``backbone`` less ``backbone.fpn``); backward time
per module is the time of the autograd nodes created by operators that ran inside that module's
forward, matched by the profiler's sequence numbers. Figures are milliseconds per step (mean
over the profiled steps).

Reproduce:
    .venv/bin/python bench/ml_step_profile.py --threads 2 --size 256 --steps 3
"""

from __future__ import annotations

import argparse
import bisect
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.ml.data import DetectionDataset, collate, resize_samples  # noqa: E402
from worker.ml.model import BACKBONES, PRETRAINED, build_model, model_config  # noqa: E402
from worker.ml.synthetic import make_samples  # noqa: E402
from worker.ml.transforms import train_preset  # noqa: E402

MODULES = (
    "transform",
    "backbone",
    "backbone.fpn",
    "rpn",
    "rpn.head",
    "roi_heads",
    "roi_heads.box_roi_pool",
    "roi_heads.box_head",
    "roi_heads.box_predictor",
    "roi_heads.mask_roi_pool",
    "roi_heads.mask_head",
    "roi_heads.mask_predictor",
)
PREFIX = "module::"


def _scope_hooks(model: nn.Module) -> None:
    """Wrap the forward of each module in ``MODULES`` in a named profiler range."""
    for name in MODULES:
        module = model.get_submodule(name)
        ranges: list[record_function] = []

        def enter(_m, _args, name=name, ranges=ranges):
            ranges.append(record_function(PREFIX + name))
            ranges[-1].__enter__()

        def leave(_m, _args, _out, ranges=ranges):
            ranges.pop().__exit__(None, None, None)

        module.register_forward_pre_hook(enter)
        module.register_forward_hook(leave)


def _attribute(events, steps: int) -> dict[str, dict[str, float]]:
    scopes = sorted(
        (e.time_range.start, e.time_range.end, e.name[len(PREFIX) :])
        for e in events
        if e.name.startswith(PREFIX)
    )
    forward: dict[str, float] = defaultdict(float)
    for start, end, name in scopes:
        forward[name] += (end - start) / 1000
    starts = [s[0] for s in scopes]

    def scope_names(t: float) -> list[str]:
        """Every module whose forward range contains time ``t``."""
        i = bisect.bisect_right(starts, t)
        return [name for start, end, name in scopes[:i] if start <= t <= end]

    module_of_seq: dict[int, list[str]] = {}
    backward_events = []
    for e in events:
        if e.name.startswith("autograd::engine::evaluate_function"):
            backward_events.append(e)
        elif e.sequence_nr >= 0 and e.sequence_nr not in module_of_seq:
            module_of_seq[e.sequence_nr] = scope_names(e.time_range.start)
    backward: dict[str, float] = defaultdict(float)
    total_backward = 0.0
    for e in backward_events:
        ms = e.cpu_time_total / 1000
        total_backward += ms
        for name in module_of_seq.get(e.sequence_nr, []):
            backward[name] += ms
    rows = {
        name: {"forward_ms": forward[name] / steps, "backward_ms": backward[name] / steps}
        for name in MODULES
    }
    rows["(all backward)"] = {"forward_ms": 0.0, "backward_ms": total_backward / steps}
    return rows


def one(
    backbone: str, config_name: str, size: int, steps: int, warmup: int, threads: int, batch: int
) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    n = batch * (steps + warmup)
    samples = resize_samples(make_samples(n, seed=5), size, size)
    loader = torch.utils.data.DataLoader(
        DetectionDataset(samples, train_preset()), batch_size=batch, collate_fn=collate
    )
    config = {
        "num_classes": 3,
        "backbone": backbone,
        "min_size": size,
        "max_size": size,
        "pretrained_backbone": backbone in PRETRAINED,
    }
    if config_name == "current":
        config = model_config(**config)
    model = build_model(**config).train()
    _scope_hooks(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    batches = iter(loader)

    def step() -> None:
        images, targets = next(batches)
        with record_function("step::forward"):
            loss = sum(model(list(images), list(targets)).values())
        optimizer.zero_grad(set_to_none=True)
        with record_function("step::backward"):
            loss.backward()
        with record_function("step::optimizer"):
            nn.utils.clip_grad_norm_(params, 10.0)
            optimizer.step()

    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    wall = (time.perf_counter() - t0) / steps
    events = prof.events()
    phases = {
        e.name: 0.0 for e in events if e.name.startswith("step::")
    }  # forward, backward, optimizer
    for e in events:
        if e.name in phases:
            phases[e.name] += e.cpu_time_total / 1000 / steps
    return {
        "backbone": backbone,
        "config": config_name,
        "size": size,
        "step_ms_profiled": wall * 1000,
        "trainable_params_m": sum(p.numel() for p in params) / 1e6,
        "phases": phases,
        "modules": _attribute(events, steps),
    }


def run() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=3, help="profiled steps")
    p.add_argument("--warmup", type=int, default=2, help="unprofiled steps first")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--backbones", nargs="+", default=list(BACKBONES))
    p.add_argument(
        "--previous",
        nargs="*",
        default=[],
        help="also profile these backbones as built before the CPU levers (build_model's "
        "keyword defaults: 2000/2000 RPN proposals, 128 RoIs, 16-256 px anchors, trunk "
        "trainable from stride 4)",
    )
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        backbone, config_name = args.child
        result = one(
            backbone, config_name, args.size, args.steps, args.warmup, args.threads, args.batch
        )
        print(json.dumps(result))
        return
    print(
        f"torch {torch.__version__}, threads {args.threads}, batch {args.batch}, "
        f"{args.size} px, ms per training step (mean of {args.steps} profiled steps)"
    )
    results = []
    runs = [(b, "previous") for b in args.previous] + [(b, "current") for b in args.backbones]
    for backbone, config_name in runs:
        out = subprocess.run(
            [sys.executable, __file__, "--child", backbone, config_name]
            + ["--size", str(args.size), "--steps", str(args.steps)]
            + ["--warmup", str(args.warmup), "--threads", str(args.threads)]
            + ["--batch", str(args.batch)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    names = [f"{r['backbone'].removesuffix('_fpn')} ({r['config']})" for r in results]
    header = f"{'module (forward / backward ms)':32s}" + "".join(f"{n[:23]:>24s}" for n in names)
    print(header)
    for name in [*MODULES, "(all backward)"]:
        cells = "".join(
            f"{r['modules'][name]['forward_ms']:11.0f} / {r['modules'][name]['backward_ms']:9.0f}"
            for r in results
        )
        print(f"{name:32s}{cells}")
    for phase in ("step::forward", "step::backward", "step::optimizer"):
        print(f"{phase:32s}" + "".join(f"{r['phases'].get(phase, 0):24.0f}" for r in results))
    for label, key, fmt in (
        ("step wall (profiled)", "step_ms_profiled", "24.0f"),
        ("trainable params (M)", "trainable_params_m", "24.1f"),
    ):
        print(f"{label:32s}" + "".join(f"{r[key]:{fmt}}" for r in results))
    print("command: .venv/bin/python bench/ml_step_profile.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    run()
