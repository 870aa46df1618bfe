"""Tag suggestions through the API: what the viewer and the worklist see of them, accepting
(the tag is set) and rejecting one, a later version's suggestions beside decided ones, and who
may decide."""

import pytest

from annotator.models import AuditEvent, SuggestionDecision, TagSuggestion
from annotator.services.annotations import tag_suggestions_replace
from tests import factories


@pytest.fixture
def suggested(world):
    """Three images of the project: a suggests the tag (0.9 at threshold 0.4), b holds it below
    its threshold (0.2), c has none."""
    version = factories.ModelVersionFactory(project=world.project, number=4)
    images = [
        factories.ImageFactory(instance__series__study__patient__project=world.project)
        for _ in range(3)
    ]
    for image, probability in zip(images, (0.9, 0.2), strict=False):
        tag_suggestions_replace(
            image=image,
            model_version=version,
            suggestions=[
                {
                    "label_class": world.tag_class.pk,
                    "probability": probability,
                    "threshold": 0.4,
                    "uncertainty": 1 - abs(probability - 0.4),
                }
            ],
        )
    return version, images


def _detail(world, image, user=None):
    response = world.client(user or world.annotator).get(f"/api/images/{image.pk}/")
    assert response.status_code == 200, response.data
    return response.data


def test_the_viewer_sees_each_suggestion_with_its_probability_threshold_and_version(
    world, suggested
):
    _, (a, b, c) = suggested
    assert _detail(world, a)["tag_suggestions"] == [
        {
            "label_class": world.tag_class.pk,
            "probability": 0.9,
            "threshold": 0.4,
            "suggested": True,
            "decision": "pending",
            "model_version": 4,
        }
    ]
    assert _detail(world, b)["tag_suggestions"][0]["suggested"] is False
    assert _detail(world, c)["tag_suggestions"] == []


def test_the_worklist_filters_by_suggested_tag_shows_the_top_one_and_sorts_by_uncertainty(
    world, suggested
):
    _, (a, b, c) = suggested
    client = world.client(world.annotator)
    listed = client.get(f"/api/projects/chest/images/?suggested_tag={world.tag_class.pk}")
    assert [row["id"] for row in listed.data["results"]] == [a.pk], "b is below its threshold"
    assert listed.data["results"][0]["top_suggestion"] == {
        "label_class": world.tag_class.pk,
        "probability": 0.9,
    }
    rows = client.get("/api/projects/chest/images/?ordering=-tag_uncertainty").data["results"]
    assert [row["id"] for row in rows] == [b.pk, a.pk, c.pk], "0.8, then 0.5, then none"
    assert [row["top_suggestion"] is not None for row in rows] == [False, True, False]
    bad = client.get("/api/projects/chest/images/?suggested_tag=normal")
    assert bad.status_code == 400 and "suggested_tag" in str(bad.data)


def test_accepting_sets_the_tag_and_rejecting_hides_it_from_the_filter(world, suggested):
    _, (a, b, _) = suggested
    client = world.client(world.annotator)
    accepted = client.post(
        f"/api/images/{a.pk}/tag-suggestions/",
        {"label_class": world.tag_class.pk, "decision": "accepted"},
        format="json",
    )
    assert accepted.status_code == 200, accepted.data
    assert accepted.data[0]["decision"] == "accepted"
    assert _detail(world, a)["tags"] == [world.tag_class.pk]
    rejected = client.post(
        f"/api/images/{b.pk}/tag-suggestions/",
        {"label_class": world.tag_class.pk, "decision": "rejected"},
        format="json",
    )
    assert rejected.status_code == 200 and rejected.data[0]["decision"] == "rejected"
    assert _detail(world, b)["tags"] == []
    listed = client.get(f"/api/projects/chest/images/?suggested_tag={world.tag_class.pk}")
    assert listed.data["results"] == []
    a.refresh_from_db(), b.refresh_from_db()
    assert a.tag_uncertainty is None and b.tag_uncertainty is None, "nothing left to decide"
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"image.tags_changed", "tag_suggestion.rejected"} <= actions
    again = client.post(
        f"/api/images/{b.pk}/tag-suggestions/",
        {"label_class": world.tag_class.pk, "decision": "accepted"},
        format="json",
    )
    assert again.status_code == 404 and again.data["code"] == "no_tag_suggestion"


def test_setting_the_tag_by_hand_accepts_its_suggestion(world, suggested):
    _, (a, _, _) = suggested
    response = world.client(world.annotator).put(
        f"/api/images/{a.pk}/tags/", {"label_class_ids": [world.tag_class.pk]}, format="json"
    )
    assert response.status_code == 200
    assert TagSuggestion.objects.get(image=a).decision == SuggestionDecision.ACCEPTED


def test_a_later_version_replaces_pending_suggestions_and_keeps_decided_ones(world, suggested):
    version, (a, b, _) = suggested
    world.client(world.annotator).post(
        f"/api/images/{b.pk}/tag-suggestions/",
        {"label_class": world.tag_class.pk, "decision": "rejected"},
        format="json",
    )
    later = factories.ModelVersionFactory(project=world.project, number=5)
    for image in (a, b):
        tag_suggestions_replace(
            image=image,
            model_version=later,
            suggestions=[
                {
                    "label_class": world.tag_class.pk,
                    "probability": 0.6,
                    "threshold": 0.5,
                    "uncertainty": 0.9,
                }
            ],
        )
    assert TagSuggestion.objects.get(image=a).model_version == later
    kept = TagSuggestion.objects.get(image=b)
    assert (kept.model_version, kept.decision) == (version, SuggestionDecision.REJECTED)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"decision": "rejected"}, "label_class"),
        ({"label_class": 1, "decision": "maybe"}, "decision"),
        ({"label_class": 1, "decision": "rejected", "extra": 1}, "Unknown field"),
    ],
)
def test_a_bad_decision_is_refused_by_name(world, suggested, body, named):
    _, (a, _, _) = suggested
    response = world.client(world.annotator).post(
        f"/api/images/{a.pk}/tag-suggestions/", body, format="json"
    )
    assert response.status_code == 400, response.data
    assert named in str(response.data["errors"])


def test_an_admin_says_whether_the_projects_tags_are_exclusive(world):
    client = world.client(world.admin)
    assert client.get("/api/projects/chest/").data["tags_exclusive"] is False
    changed = client.patch("/api/projects/chest/", {"tags_exclusive": True}, format="json")
    assert changed.status_code == 200 and changed.data["tags_exclusive"] is True
    event = AuditEvent.objects.filter(action="project.updated").latest("id")
    assert (event.before["tags_exclusive"], event.after["tags_exclusive"]) == (False, True)
    refused = world.client(world.annotator).patch(
        "/api/projects/chest/", {"tags_exclusive": False}, format="json"
    )
    assert refused.status_code == 403
