"""Patient-level splits: deterministic, close to the ratios, stable, and only changed on purpose."""

from collections import Counter

from annotator.models import AuditEvent, Patient
from annotator.services.datasets import split_for, splits_rebalance
from annotator.services.studies import patient_get_or_create
from tests import factories

RATIOS = {"train": 70, "val": 15, "test": 15}


def test_split_is_a_deterministic_function_of_seed_and_pseudonym():
    names = [f"P-{i:012x}" for i in range(20_000)]
    first = [split_for(pseudonym=n, seed="s1", ratios=RATIOS) for n in names]
    assert first == [split_for(pseudonym=n, seed="s1", ratios=RATIOS) for n in names]
    counts = Counter(first)
    assert abs(counts["train"] / len(names) - 0.70) < 0.015
    assert abs(counts["val"] / len(names) - 0.15) < 0.015
    other_seed = [split_for(pseudonym=n, seed="s2", ratios=RATIOS) for n in names]
    assert first != other_seed


def test_new_patients_never_move_existing_ones(db):
    project = factories.ProjectFactory()
    early = [patient_get_or_create(project=project, pseudonym=f"P-a{i}") for i in range(50)]
    before = {p.pk: p.split for p in early}
    for i in range(200):
        patient_get_or_create(project=project, pseudonym=f"P-b{i}")
    after = dict(Patient.objects.filter(pk__in=before).values_list("pk", "split"))
    assert after == before


def test_changing_ratios_moves_patients_only_by_an_audited_rebalance(db):
    project = factories.ProjectFactory()
    admin = factories.UserFactory()
    for i in range(100):
        patient_get_or_create(project=project, pseudonym=f"P-{i}")
    result = splits_rebalance(
        project=project, actor=admin, ratios={"train": 50, "val": 25, "test": 25}
    )
    moved = AuditEvent.objects.filter(action="patient.split_changed")
    assert result["moved"] == moved.count() > 0
    assert AuditEvent.objects.filter(action="project.splits_rebalanced").count() == 1
    for patient in Patient.objects.filter(project=project):
        assert patient.split == split_for(
            pseudonym=patient.pseudonym,
            seed=project.split_seed,
            ratios={"train": 50, "val": 25, "test": 25},
        )


def test_rebalance_api_is_admin_only_and_validates_ratios(world):
    bad = world.client(world.admin).post(
        "/api/projects/chest/splits/rebalance/",
        {"split_ratios": {"train": 80, "val": 15, "test": 15}},
        format="json",
    )
    denied = world.client(world.annotator).post(
        "/api/projects/chest/splits/rebalance/",
        {"split_ratios": {"train": 80, "val": 10, "test": 10}},
        format="json",
    )
    assert (bad.status_code, bad.data["code"]) == (400, "invalid_split")
    assert denied.status_code == 403


def test_setting_a_patient_to_its_own_split_still_pins_it(world):
    patient = factories.PatientFactory(project=world.project, split="val")
    assert patient.split_manual is False
    response = world.client(world.admin).patch(
        f"/api/patients/{patient.pk}/", {"split": "val"}, format="json"
    )
    assert response.status_code == 200 and response.data["split_manual"] is True
    patient.refresh_from_db()
    assert patient.split_manual is True
    assert AuditEvent.objects.get(action="patient.split_pinned").after == {
        "split": "val",
        "split_manual": True,
    }


def test_admin_moves_one_patient_and_it_is_audited(world):
    patient = factories.PatientFactory(project=world.project, split="train")
    response = world.client(world.admin).patch(
        f"/api/patients/{patient.pk}/", {"split": "test"}, format="json"
    )
    assert response.status_code == 200 and response.data["split_manual"] is True
    event = AuditEvent.objects.get(action="patient.split_changed")
    assert (event.before, event.after) == ({"split": "train"}, {"split": "test"})
