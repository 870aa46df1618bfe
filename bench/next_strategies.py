"""Which image should Next serve? Test segm AP50 after k labelled images, per worklist strategy.

A simulated radiologist on the demo's data, as ``bench/ml_demo_learning.py`` builds it for each
fresh run (``seed_demo``'s synthetic-lesion CT slices, without its clean ones; the project's
split rule with fresh pseudonyms; the demo's model and training options): a seed set of train
images is labelled first (the first images of the run's ``random`` shuffle, the same for every
strategy) and the model is trained on it. Then, round after round, the worklist ordered by the
strategy serves its first ``batch`` images not yet done; the radiologist accepts their ground
truth (they are done now) and the model is retrained briefly, starting from the previous round's
weights. A training is as long in steps (whole epochs: the same for every strategy at the same
k), not in seconds, so that a machine busier during one strategy's rounds does not train it
less; its time budget is only a backstop (each training's steps and seconds are printed). The
order is the worklist's own rule (``annotator.selectors.strategies``) over the train pool's
images. Under "Most uncertain first" each image not done has the current model's uncertainty, as
pre-annotation scores it (``worker.ml.predictor``: every detection down to the serving floor,
``uncertainty`` at the operating threshold the training chose on val).

Reported: test segm AP50 (COCO, threshold-free) of the model after k labelled images, per
strategy, over the run's test images; with ``--runs N``, min / median / max over N fresh runs
and each strategy's per-run difference from random.

Reproduce (the default, 15-25 minutes on 2 cores by load; ``--quick`` is a smoke run):
    nice -n 10 .venv/bin/python bench/next_strategies.py
    nice -n 10 .venv/bin/python bench/next_strategies.py --runs 3
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ml_demo_learning import (
    DEMO_TRAINING,
    _summary,
    demo_splits,
    train_config,
    version_figures,
)

from annotator.models import ImageStatus
from annotator.selectors.strategies import (
    DONE_STATUSES,
    STRATEGIES,
    ImageFacts,
    Strategy,
    strategy_ranked,
)
from annotator.services.jobs import _training_options
from radlabel.demo.lesions import CLASS_NAMES
from worker.ml.data import InMemoryDatastore, Sample
from worker.ml.predictor import LOW_SCORE_FLOOR, Predictor, uncertainty
from worker.ml.train import TrainConfig, TrainResult, main

STRATEGY_NAMES = ("random", "unlabelled_first", "-uncertainty")


@dataclass(frozen=True)
class Setting:
    seed_images: int  # labelled before the first round
    batch: int  # images served (and labelled) per round
    rounds: int
    seed_epochs: int  # training on the seed set
    round_steps: int  # about this many steps per retrain (whole epochs), the same per strategy
    cap_s: float  # each training's time budget: a backstop, not what ends a training


SETTINGS = {
    "default": Setting(seed_images=8, batch=8, rounds=3, seed_epochs=15, round_steps=40, cap_s=600),
    "quick": Setting(seed_images=4, batch=4, rounds=1, seed_epochs=1, round_steps=1, cap_s=30),
}


def _train(
    labelled: list[Sample],
    splits: dict[str, list[Sample]],
    patients: dict[str, list[str]],
    options: dict,
    output_dir: Path,
    init: TrainResult | None,
) -> tuple[TrainResult, float]:
    """The worker's training call on ``labelled`` (the demo's val and test as they are), warm
    from ``init``'s weights; returns the result and the operating threshold chosen on val."""
    cfg = train_config(options, output_dir)
    if init is not None:
        cfg = replace(cfg, init_weights=init.weights_path, init_sha256=init.sha256)
    store = InMemoryDatastore(CLASS_NAMES, {**splits, "train": labelled})
    result = main(cfg, store)
    return result, version_figures(result, splits, patients)[0]


def _uncertainties(
    result: TrainResult, threshold: float, samples: list[Sample]
) -> dict[int, float]:
    """Each image's ``Image.uncertainty`` as pre-annotation with this model would set it."""
    predictor = Predictor(
        result.weights_path,
        expected_sha256=result.sha256,
        score_threshold=min(threshold, LOW_SCORE_FLOOR),
    )
    found = predictor.predict([s.image for s in samples])
    return {
        s.image_id: uncertainty(f, threshold=threshold) for s, f in zip(samples, found, strict=True)
    }


def _served(
    strategy: Strategy,
    pool: list[Sample],
    done: set[int],
    scores: dict[int, float],
    *,
    seed: str,
    batch: int,
) -> list[int]:
    """The first ``batch`` images not done in the worklist ordered by ``strategy``."""
    facts = []
    for s in pool:
        status = ImageStatus.PROPOSED if s.image_id in scores else ImageStatus.UNLABELLED
        if s.image_id in done:
            status = ImageStatus.DONE
        facts.append(ImageFacts(id=s.image_id, status=status, uncertainty=scores.get(s.image_id)))
    ranked = strategy_ranked(strategy, facts, seed=seed)
    return [f.id for f in ranked if f.status not in DONE_STATUSES][:batch]


def one_run(run: int, setting: Setting, work: Path) -> dict:
    """Test segm AP50 per strategy and number of labelled images, for fresh run ``run``."""
    splits, patients, _ = demo_splits(run)
    # the demo's lesion slices: the figures in the README were measured before it held clean ones
    lesions = {k: [i for i, s in enumerate(v) if len(s.labels)] for k, v in splits.items()}
    splits = {k: [v[i] for i in lesions[k]] for k, v in splits.items()}
    patients = {k: [v[i] for i in lesions[k]] for k, v in patients.items()}
    pool = splits["train"]
    by_id = {s.image_id: s for s in pool}
    seed = f"run{run}"

    def train(ids: list[int], epochs: int, name: str, init: TrainResult | None):
        t = time.monotonic()
        options = {**DEMO_TRAINING, "epochs": epochs, "time_budget_s": setting.cap_s}
        result, threshold = _train(
            [by_id[i] for i in ids],
            splits,
            patients,
            _training_options(options),
            work / name,
            init,
        )
        print(
            f"  run {run} {name} k={len(ids)}: test segm AP50 "
            f"{result.metrics['test']['segm_AP50']:.3f}, threshold {threshold:.2f}, "
            f"{result.steps} steps in {len(result.history)} epochs "
            f"({result.train_seconds:.0f} s of training), "
            f"{time.monotonic() - t:.0f} s",
            flush=True,
        )
        return result, threshold

    t0 = time.monotonic()
    first = _served(STRATEGIES["random"], pool, set(), {}, seed=seed, batch=setting.seed_images)
    seed_model = train(first, setting.seed_epochs, "seed", None)
    ap50 = {
        name: {len(first): seed_model[0].metrics["test"]["segm_AP50"]} for name in STRATEGY_NAMES
    }
    for name in STRATEGY_NAMES:
        strategy = STRATEGIES[name]
        scored = any(key.fact == "uncertainty" for key in strategy.keys)
        done, (result, threshold) = list(first), seed_model
        for r in range(1, setting.rounds + 1):
            open_images = [s for s in pool if s.image_id not in done]
            scores = _uncertainties(result, threshold, open_images) if scored else {}
            done += _served(strategy, pool, set(done), scores, seed=seed, batch=setting.batch)
            steps_per_epoch = max(len(done) // TrainConfig.batch_size, 1)
            epochs = max(round(setting.round_steps / steps_per_epoch), 1)
            result, threshold = train(done, epochs, f"{name}-{r}", result)
            ap50[name][len(done)] = result.metrics["test"]["segm_AP50"]
        print(
            f"run {run} {strategy.title}: "
            + ", ".join(f"k={k} {v:.3f}" for k, v in ap50[name].items()),
            flush=True,
        )
    return {
        "ap50": ap50,
        "pool": len(pool),
        "test_images": len(splits["test"]),
        "test_lesions": sum(len(s.labels) for s in splits["test"]),
        "wall_s": time.monotonic() - t0,
    }


def _table(runs: list[dict]) -> list[str]:
    """Strategy × k: one run's figures, or min / median / max over the runs."""
    ks = list(runs[0]["ap50"]["random"])
    width = 8 if len(runs) == 1 else 27

    def row(label: str, values: list[list[float]], fmt: str) -> str:
        return f"{label:<36}" + "".join(
            f"{format(v[0], fmt) if len(v) == 1 else _summary(v, fmt):>{width}}" for v in values
        )

    def ap(name: str, k: int) -> list[float]:
        return [r["ap50"][name][k] for r in runs]

    lines = [f"{'strategy':<36}" + "".join(f"{f'k={k}':>{width}}" for k in ks)]
    lines += [row(STRATEGIES[n].title, [ap(n, k) for k in ks], ".3f") for n in STRATEGY_NAMES]
    for name in STRATEGY_NAMES[1:]:
        differences = [
            [a - b for a, b in zip(ap(name, k), ap("random", k), strict=True)] for k in ks
        ]
        lines.append(row(f"{STRATEGIES[name].title} − random", differences, "+.3f"))
    return lines


def run() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=1, help="fresh runs (splits and seed set)")
    p.add_argument("--first-run", type=int, default=1, help="split seed of the first run")
    p.add_argument("--quick", action="store_true", help="a tiny setting: a smoke run")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    setting = SETTINGS["quick" if args.quick else "default"]
    torch.set_num_threads(args.threads)
    logging.getLogger().setLevel(logging.WARNING)  # the figures, not every epoch's log
    print(f"torch {torch.__version__}, threads {args.threads}, load average {os.getloadavg()}")
    print(
        f"setting {setting}, model {DEMO_TRAINING['backbone']} at {DEMO_TRAINING['image_size']} px"
    )
    t0 = time.monotonic()
    runs = []
    for number in range(args.first_run, args.first_run + args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(one_run(number, setting, Path(tmp)))
    spread = f"min / median / max over {len(runs)} fresh runs" if len(runs) > 1 else "one run"

    def per_run(key: str) -> str:
        return " / ".join(str(r[key]) for r in runs)

    print(
        f"\ntest segm AP50 after k labelled train images ({spread}; per run: a pool of "
        f"{per_run('pool')} train images, {per_run('test_images')} test images with "
        f"{per_run('test_lesions')} lesions):"
    )
    print("\n".join(_table(runs)))
    print(
        f"wall {time.monotonic() - t0:.0f} s ({_summary([r['wall_s'] for r in runs], '.0f')} "
        f"s per run); load average at end {os.getloadavg()}"
    )
    print("command: .venv/bin/python bench/next_strategies.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    run()
