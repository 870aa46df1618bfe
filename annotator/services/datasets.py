"""Patient-level splits: deterministic, stable as data arrives, and never silently changed."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from annotator.exceptions import ApplicationError
from annotator.models import Patient, Project, Split
from annotator.services.audit import audit_record


def split_for(*, pseudonym: str, seed: str, ratios: dict[str, int]) -> str:
    """The split of a patient: a seeded hash of its pseudonym placed on the cumulative ratios."""
    total = sum(ratios.values())
    if total <= 0:
        raise ApplicationError("Split ratios must add up to more than zero.", code="invalid_split")
    digest = hashlib.sha256(f"{seed}\x00{pseudonym}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * total
    edge = 0
    for split in (Split.TRAIN, Split.VAL, Split.TEST):
        edge += ratios[split]
        if point < edge:
            return split
    return Split.TEST


def split_ratios_validate(ratios: dict[str, int]) -> dict[str, int]:
    if set(ratios) != {"train", "val", "test"}:
        raise ApplicationError("Give ratios for train, val and test.", code="invalid_split")
    if any(not isinstance(v, int) or v < 0 for v in ratios.values()) or sum(ratios.values()) != 100:
        raise ApplicationError(
            "Split ratios are whole percentages that add up to 100.", code="invalid_split"
        )
    return ratios


@transaction.atomic
def splits_rebalance(
    *, project: Project, actor: AbstractBaseUser, ratios: dict[str, int], seed: str | None = None
) -> dict[str, int]:
    """Reassign every patient by new ratios (and optionally a new seed). Audited per patient."""
    split_ratios_validate(ratios)
    before = {"ratios": project.split_ratios, "seed": project.split_seed}
    project.split_train, project.split_val, project.split_test = (
        ratios["train"],
        ratios["val"],
        ratios["test"],
    )
    if seed:
        project.split_seed = seed
    project.save(update_fields=["split_train", "split_val", "split_test", "split_seed"])
    moved = 0
    for patient in Patient.objects.select_for_update().filter(project=project):
        new = split_for(pseudonym=patient.pseudonym, seed=project.split_seed, ratios=ratios)
        if new != patient.split:
            audit_record(
                actor=actor,
                project=project,
                action="patient.split_changed",
                obj=patient,
                before={"split": patient.split},
                after={"split": new},
            )
            patient.split = new
            patient.split_manual = False
            patient.save(update_fields=["split", "split_manual"])
            moved += 1
    audit_record(
        actor=actor,
        project=project,
        action="project.splits_rebalanced",
        obj=project,
        before=before,
        after={"ratios": ratios, "seed": project.split_seed, "moved": moved},
    )
    return {"moved": moved}


@transaction.atomic
def patient_set_split(*, patient: Patient, actor: AbstractBaseUser, split: str) -> Patient:
    if split not in Split.values:
        raise ApplicationError(f"Unknown split {split!r}.", code="invalid_split")
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.split != split:
        audit_record(
            actor=actor,
            project=patient.project,
            action="patient.split_changed",
            obj=patient,
            before={"split": patient.split},
            after={"split": split},
        )
        patient.split = split
    elif not patient.split_manual:
        audit_record(
            actor=actor,
            project=patient.project,
            action="patient.split_pinned",
            obj=patient,
            before={"split": split, "split_manual": False},
            after={"split": split, "split_manual": True},
        )
    # an admin's choice, even of the value it had: a later rebalance leaves it alone
    patient.split_manual = True
    patient.save(update_fields=["split", "split_manual"])
    return patient
