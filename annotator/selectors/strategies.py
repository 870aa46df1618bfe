"""Worklist strategies: the named orders the worklist lists images in, and Next follows.

A small registry, as MONAI Label's ``init_strategies``: a strategy has a name (the image list's
``ordering`` value), a title, a description and its rule, a list of sort keys over an image's
facts. The same keys order the image list in the database (:func:`strategy_order_by`) and rank
plain records in Python (:func:`strategy_ranked`, e.g. for ``bench/next_strategies.py``'s
simulated radiologist); a test holds the two to the same order. An unknown uncertainty or slice
position sorts last whatever the direction. Every rule ends on the image id, so an order is
total, paging is stable and Next is deterministic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Case, CharField, F, IntegerField, Value, When
from django.db.models.expressions import OrderBy
from django.db.models.functions import MD5, Cast, Concat

from annotator.exceptions import ApplicationError
from annotator.models import ImageStatus

DONE_STATUSES = (ImageStatus.DONE, ImageStatus.REVIEWED)
NULLABLE_FACTS = {"uncertainty", "tag_uncertainty", "position"}


@dataclass(frozen=True)
class Key:
    """One sort key: a fact of the image, ascending unless ``descending``.

    Facts: ``id``; ``status`` (its name); ``done`` (0 before 1: done or reviewed);
    ``uncertainty``; ``tag_uncertainty`` (of its undecided tag suggestions); ``series_id`` and
    ``position`` (the slice's place in its series);
    ``shuffle``, the md5 of ``"<seed>:<id>"``: a stable random order per seed.
    """

    fact: str
    descending: bool = False


@dataclass(frozen=True)
class Strategy:
    name: str
    title: str
    description: str
    keys: tuple[Key, ...]

    @property
    def not_done_first(self) -> bool:
        """Images not yet done come first: one done since it was listed has left that part."""
        return self.keys[0] == Key("done")


@dataclass(frozen=True)
class ImageFacts:
    """What a strategy reads of an image (an ``Image`` row has the same attributes)."""

    id: int
    status: str = ImageStatus.UNLABELLED
    uncertainty: float | None = None
    tag_uncertainty: float | None = None
    series_id: int = 0
    position: float | None = None


_ID = Key("id")
STRATEGIES = {
    s.name: s
    for s in (
        Strategy("id", "Oldest first", "In the order the images were added.", (_ID,)),
        Strategy(
            "unlabelled_first",
            "First unlabelled",
            "Images not yet done first, oldest first; done and reviewed ones after them.",
            (Key("done"), _ID),
        ),
        Strategy(
            "-uncertainty",
            "Most uncertain first",
            "The images the model was least sure of when it pre-annotated them first; those "
            "it has not scored last.",
            (Key("uncertainty", descending=True), _ID),
        ),
        Strategy(
            "-tag_uncertainty",
            "Most uncertain tags first",
            "The images whose tag suggestions the classifier was least sure of first; those "
            "without an undecided suggestion last.",
            (Key("tag_uncertainty", descending=True), _ID),
        ),
        Strategy(
            "random",
            "Random",
            "Each user's own shuffle of the project's images, the same on every visit.",
            (Key("shuffle"), _ID),
        ),
        Strategy(
            "uncertainty",
            "Least uncertain first",
            "The images the model was surest of first; those it has not scored last.",
            (Key("uncertainty"), _ID),
        ),
        Strategy(
            "-id", "Newest first", "The images added last first.", (Key("id", descending=True),)
        ),
        Strategy("status", "Status A→Z", "By status name, A to Z.", (Key("status"), _ID)),
        Strategy(
            "-status",
            "Status Z→A",
            "By status name, Z to A.",
            (Key("status", descending=True), _ID),
        ),
        Strategy(
            "position",
            "Series and slice position",
            "Series by series, each in slice order along its stack.",
            (Key("series_id"), Key("position"), _ID),
        ),
    )
}
DEFAULT_STRATEGY = "id"


def strategy_get(name: str) -> Strategy:
    """The strategy called ``name``; an unknown name is a 400 naming the choices."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ApplicationError(
            f"Unknown ordering {name!r}; use one of {', '.join(STRATEGIES)}.",
            code="unknown_filter_field",
        ) from None


def strategy_order_by(
    strategy: Strategy, *, seed: str, fields: dict[str, str] | None = None
) -> list[OrderBy]:
    """The database ordering of ``strategy``; ``fields`` renames facts (a grouped row's
    ``status`` and ``uncertainty`` are annotations)."""
    field = fields or {}
    order = []
    for key in strategy.keys:
        if key.fact == "done":
            expression: Any = Case(
                When(**{f"{field.get('status', 'status')}__in": DONE_STATUSES}, then=1),
                default=0,
                output_field=IntegerField(),
            )
        elif key.fact == "shuffle":
            expression = MD5(Concat(Value(f"{seed}:"), Cast("id", output_field=CharField())))
        else:
            expression = F(field.get(key.fact, key.fact))
        nulls_last = True if key.fact in NULLABLE_FACTS else None
        order.append(
            expression.desc(nulls_last=nulls_last)
            if key.descending
            else expression.asc(nulls_last=nulls_last)
        )
    return order


Item = TypeVar("Item")


def strategy_ranked(strategy: Strategy, items: Sequence[Item], *, seed: str) -> list[Item]:
    """``items`` (with ``ImageFacts``' attributes) in the strategy's order, as the database
    orders them."""

    def sort_value(item: Any, key: Key) -> Any:
        if key.fact == "done":
            return int(item.status in DONE_STATUSES)
        if key.fact == "shuffle":
            return hashlib.md5(f"{seed}:{item.id}".encode(), usedforsecurity=False).hexdigest()
        value = getattr(item, key.fact)
        if key.fact not in NULLABLE_FACTS:
            return value
        known = value is not None  # unknown last, also when sorted in reverse
        return (known if key.descending else not known, value if known else 0)

    ranked = list(items)
    for key in reversed(strategy.keys):  # stable sorts, the last key first
        ranked.sort(key=lambda item, key=key: sort_value(item, key), reverse=key.descending)
    return ranked
