"""How much each model version helps, and the box → mask assist: what became of every proposal,
what people drew that the model missed, and the time they spent per image.

A proposal's fate is what its annotation is now against what was proposed, so undoing an
accept or an edit undoes its fate too. Each figure comes with ``n``, what it rests on (the
proposals people decided on, the edited proposals, or the images), and is null when ``n`` is 0.

An image counts for the version whose proposals it holds (its last pre-annotation run, also
when that proposed nothing). Misses and seconds rest on the images people finished (done or
reviewed); seconds only on those with recorded time.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from django.db.models import Count, Sum

from annotator.coco import overlap
from annotator.models import (
    Annotation,
    AnnotationStatus,
    Image,
    ImageActivity,
    ImagePreannotation,
    ImageStatus,
    ModelVersion,
    Project,
    ProposalOutcome,
    Source,
)

FINISHED = (ImageStatus.DONE, ImageStatus.REVIEWED)


class Fate(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED_UNCHANGED = "accepted_unchanged"
    ACCEPTED_EDITED = "accepted_edited"
    CLASS_CHANGED = "class_changed"
    REJECTED = "rejected"
    DELETED = "deleted"


DECIDED = [fate for fate in Fate if fate != Fate.PROPOSED]


def proposal_fate(outcome: ProposalOutcome) -> tuple[Fate, float | None]:
    """The fate of one proposal, and for an edited one the IoU of what was proposed with what
    was accepted (of the masks when both have one, else of the boxes)."""
    annotation = outcome.annotation
    if annotation is None:
        return Fate.DELETED, None
    if annotation.status == AnnotationStatus.PROPOSED:
        return Fate.PROPOSED, None
    if annotation.status == AnnotationStatus.REJECTED:
        return Fate.REJECTED, None
    if annotation.label_class_id != outcome.label_class_id:
        return Fate.CLASS_CHANGED, None
    if annotation.box == outcome.box and annotation.mask == outcome.mask:
        return Fate.ACCEPTED_UNCHANGED, None
    proposed = {"box": outcome.box, "mask": outcome.mask}
    final = {"box": annotation.box, "mask": annotation.mask}
    return Fate.ACCEPTED_EDITED, overlap(proposed, final)


def _figure(value: float | None, n: int) -> dict[str, Any]:
    return {"value": None if not n or value is None else round(value, 4), "n": n}


def _mean(total: float, n: int) -> dict[str, Any]:
    return _figure(total / n if n else None, n)


def fate_figures(outcomes: Iterable[ProposalOutcome]) -> dict[str, Any]:
    """Proposals by fate, each decided fate's share of the decided ones, the median edit IoU."""
    counts: Counter[Fate] = Counter()
    ious = []
    for outcome in outcomes:
        fate, iou = proposal_fate(outcome)
        counts[fate] += 1
        if iou is not None:
            ious.append(iou)
    decided = sum(counts[fate] for fate in DECIDED)
    return {
        "proposals": counts.total(),
        "counts": {fate.value: counts[fate] for fate in Fate},
        **{fate.value: _mean(counts[fate], decided) for fate in DECIDED},
        "median_edit_iou": _figure(statistics.median(ious) if ious else None, len(ious)),
    }


class _ProjectFacts:
    """What the figures of one project rest on, read once."""

    def __init__(self, project: Project) -> None:
        outcomes = ProposalOutcome.objects.filter(project=project).select_related("annotation")
        self.outcomes: dict[tuple[str, int | None], list[ProposalOutcome]] = defaultdict(list)
        for outcome in outcomes.order_by("pk"):
            self.outcomes[(outcome.source, outcome.model_version_id)].append(outcome)
        self.version_of = dict(
            ImagePreannotation.objects.filter(image__project=project).values_list(
                "image_id", "model_version_id"
            )
        )
        self.finished = set(
            Image.objects.filter(project=project, status__in=FINISHED).values_list("pk", flat=True)
        )
        self.seconds = dict(
            ImageActivity.objects.filter(image__project=project)
            .values("image")
            .annotate(total=Sum("seconds"))
            .values_list("image", "total")
        )
        # drawn by a person, from scratch or with the assist; not a model proposal restored
        self.drawn = dict(
            Annotation.objects.filter(
                project=project,
                source__in=[Source.HUMAN, Source.ASSIST],
                status=AnnotationStatus.ACCEPTED,
            )
            .exclude(proposal_outcome__source=Source.MODEL)
            .values("image")
            .annotate(count=Count("pk"))
            .values_list("image", "count")
        )
        self.model_proposed = set(
            Annotation.objects.filter(project=project, source=Source.MODEL)
            .values_list("image_id", flat=True)
            .distinct()
        )

    def seconds_per_image(self, images: Iterable[int]) -> dict[str, Any]:
        timed = [self.seconds[pk] for pk in images if pk in self.finished and pk in self.seconds]
        return _mean(sum(timed), len(timed))


def _version_figures(version: ModelVersion, facts: _ProjectFacts) -> dict[str, Any]:
    images = {pk for pk, version_id in facts.version_of.items() if version_id == version.pk}
    outcomes = facts.outcomes[(Source.MODEL, version.pk)]
    proposed_on = Counter(o.image_id for o in outcomes if o.image_id in images)
    finished = images & facts.finished
    return {
        "number": version.number,
        "status": version.status,
        "images": len(images),
        "proposals_per_image": _mean(proposed_on.total(), len(images)),
        **fate_figures(outcomes),
        "misses_per_image": _mean(sum(facts.drawn.get(pk, 0) for pk in finished), len(finished)),
        "seconds_per_image_with_proposals": facts.seconds_per_image(
            pk for pk in images if proposed_on[pk]
        ),
        "seconds_per_image_without_proposals": facts.seconds_per_image(
            pk for pk in images if not proposed_on[pk]
        ),
    }


def model_version_value(*, version: ModelVersion) -> dict[str, Any]:
    return _version_figures(version, _ProjectFacts(version.project))


def project_model_value(*, project: Project) -> dict[str, Any]:
    """Every version's figures (newest first), the assist's, and the seconds per finished image
    that no model pre-annotated."""
    facts = _ProjectFacts(project)
    versions = ModelVersion.objects.filter(project=project).order_by("-number")
    unassisted = facts.finished - facts.version_of.keys() - facts.model_proposed
    return {
        "versions": [_version_figures(version, facts) for version in versions],
        "assist": fate_figures(facts.outcomes[(Source.ASSIST, None)]),
        "without_model": {"seconds_per_image": facts.seconds_per_image(unassisted)},
    }
