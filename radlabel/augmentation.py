"""The augmentation a project trains with: each op on or off, with a strength and a
probability, as one validated JSON-serialisable structure. Torch-free, so the web process
validates what an admin sends; ``worker/ml/transforms.py`` builds the pipeline from it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Op:
    """One augmentation op's settings: whether it runs, how strong, how often (0..1)."""

    enabled: bool
    strength: float
    probability: float


@dataclass(frozen=True)
class OpSpec:
    """What an op's strength means and its allowed range (``low == high``: no strength)."""

    title: str
    strength: str
    low: float
    high: float
    default: Op


# The defaults are the augmentation the detector trained with before the settings existed.
OPS: dict[str, OpSpec] = {
    "hflip": OpSpec("Horizontal flip", "none", 1.0, 1.0, Op(True, 1.0, 0.5)),
    "vflip": OpSpec("Vertical flip", "none", 1.0, 1.0, Op(False, 1.0, 0.5)),
    "rotation": OpSpec("Rotation", "max degrees either way", 0.0, 180.0, Op(True, 10.0, 0.7)),
    "translation": OpSpec(
        "Translation", "max shift, fraction of the side", 0.0, 0.5, Op(True, 0.05, 0.7)
    ),
    "scaling": OpSpec("Scaling", "max zoom change, fraction", 0.0, 0.5, Op(True, 0.1, 0.7)),
    "shear": OpSpec("Shear", "max degrees either way", 0.0, 45.0, Op(True, 5.0, 0.7)),
    "occlusion": OpSpec(
        "Occlusion (cutout)", "max erased share of the image", 0.02, 0.5, Op(False, 0.15, 0.5)
    ),
    "window": OpSpec(
        "Window/level jitter", "level shift s; width ×[1−3s, 1+4s]", 0.0, 0.2, Op(True, 0.05, 0.5)
    ),
    "contrast": OpSpec("Contrast", "max gain change, fraction", 0.0, 0.9, Op(False, 0.2, 0.5)),
    "gamma": OpSpec("Gamma", "gamma in [1/(1+s), 1+s]", 0.0, 2.0, Op(False, 0.3, 0.5)),
    "noise": OpSpec("Gaussian noise", "sigma", 0.0, 0.2, Op(True, 0.02, 0.3)),
    "blur": OpSpec("Gaussian blur", "max sigma, px", 0.1, 5.0, Op(True, 1.0, 0.3)),
}
GEOMETRIC = ("rotation", "translation", "scaling", "shear")
OCCLUSION_DROP_SHARE = 0.7  # an instance with more of its mask erased than this is dropped


class AugmentationSettingsError(ValueError):
    """Settings that are not valid; ``problems`` names each (unknown keys, bad values)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class AugmentationSettings:
    """Every op's settings, keyed by the names of ``OPS``; JSON as ``{op: {enabled, strength,
    probability}}``."""

    ops: dict[str, Op] = field(default_factory=lambda: {k: s.default for k, s in OPS.items()})

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {name: asdict(op) for name, op in self.ops.items()}

    @classmethod
    def from_json(cls, data: Any) -> AugmentationSettings:
        """Validated settings; an op or field left out takes its default. Raises
        :class:`AugmentationSettingsError` naming every unknown key and bad value."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise AugmentationSettingsError(["the settings are an object of ops"])
        problems = [f"unknown op '{name}'" for name in data if name not in OPS]
        ops = {}
        for name, spec in OPS.items():
            given = data.get(name, {})
            if not isinstance(given, dict):
                problems.append(f"{name} is an object of enabled, strength, probability")
                continue
            problems += [f"unknown field '{name}.{key}'" for key in given if key not in _FIELDS]
            values = asdict(spec.default) | given
            problems += _field_problems(name, spec, values)
            ops[name] = Op(
                enabled=values["enabled"] is True,
                strength=_number(values["strength"]),
                probability=_number(values["probability"]),
            )
        if problems:
            raise AugmentationSettingsError(problems)
        return cls(ops)


_FIELDS = ("enabled", "strength", "probability")


def _number(value: Any) -> float:
    return float(value) if _is_number(value) else math.nan


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _field_problems(name: str, spec: OpSpec, values: dict[str, Any]) -> list[str]:
    problems = []
    if not isinstance(values["enabled"], bool):
        problems.append(f"{name}.enabled is true or false")
    strength, probability = values["strength"], values["probability"]
    if not _is_number(strength) or not spec.low <= strength <= spec.high:
        if spec.low == spec.high:
            problems.append(f"{name} has no strength: {name}.strength is {spec.low:g}")
        else:
            problems.append(f"{name}.strength is between {spec.low:g} and {spec.high:g}")
    if not _is_number(probability) or not 0.0 <= probability <= 1.0:
        problems.append(f"{name}.probability is between 0 and 1")
    return problems
