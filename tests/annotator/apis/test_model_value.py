"""The value of each model version: what people did with its proposals (accept, edit, change the
class, reject, delete), what they drew that it missed, and their time per image; the same fates
for the box → mask assist. Every figure is computed here from a known sequence of actions."""

import uuid

import numpy as np
import pytest

from annotator import coco
from annotator.services.annotations import proposals_replace
from tests import factories


def _square(x0, y0, x1, y1, size=64):
    pixels = np.zeros((size, size), np.uint8)
    pixels[y0:y1, x0:x1] = 1
    return coco.box_and_mask(pixels)


def _proposal(label_class, x0, y0, x1, y1):
    return {"label_class": label_class.pk, "score": 0.9, **_square(x0, y0, x1, y1)}


class Radiologist:
    """Acts through the API as a person does in the viewer."""

    def __init__(self, client):
        self.client = client

    def annotations(self, image):
        return {a["id"]: a for a in self.client.get(f"/api/images/{image.pk}/annotations/").data}

    def patch(self, annotation, **changes):
        response = self.client.patch(
            f"/api/annotations/{annotation['id']}/",
            changes,
            format="json",
            HTTP_IF_MATCH=f'"{annotation["version"]}"',
        )
        assert response.status_code == 200, response.data
        return response.data

    def delete(self, annotation):
        response = self.client.delete(
            f"/api/annotations/{annotation['id']}/", HTTP_IF_MATCH=f'"{annotation["version"]}"'
        )
        assert response.status_code == 204, response.data

    def bulk(self, image, action, ids):
        response = self.client.post(
            f"/api/images/{image.pk}/annotations/bulk/",
            {"action": action, "ids": ids},
            format="json",
        )
        assert response.status_code == 200, response.data

    def draw(self, image, label_class, shape, **fields):
        response = self.client.post(
            f"/api/images/{image.pk}/annotations/",
            {
                "client_key": str(uuid.uuid4()),
                "label_class": label_class.pk,
                **shape,
                **fields,
            },
            format="json",
        )
        assert response.status_code == 201, response.data
        return response.data

    def finish(self, image, seconds):
        activity = self.client.post(
            f"/api/images/{image.pk}/activity/", {"seconds": seconds}, format="json"
        )
        assert activity.status_code == 200, activity.data
        done = self.client.patch(f"/api/images/{image.pk}/", {"status": "done"}, format="json")
        assert done.status_code == 200, done.data


@pytest.fixture
def person(world):
    return Radiologist(world.client(world.annotator))


@pytest.fixture
def image_factory(world):
    return lambda: factories.ImageFactory(instance__series__study__patient__project=world.project)


def _value(world, number=None):
    path = "/api/projects/chest/model-versions/"
    response = world.client(world.admin).get(
        f"{path}{number}/value/" if number else f"{path}value/"
    )
    assert response.status_code == 200, response.data
    return response.data


def _figure(value, n):
    return {"value": value, "n": n}


def _x(annotation):
    """Proposals in the order they were placed here: by their top-left corner."""
    return annotation["box"][0] + annotation["box"][1]


def test_each_fate_and_the_figures_of_a_version(world, person, image_factory):
    nodule, mass = world.instance_class, factories.LabelClassFactory(project=world.project)
    v1 = factories.ModelVersionFactory(project=world.project, number=1)
    factories.ModelVersionFactory(project=world.project, number=2)
    a, b, c, d = (image_factory() for _ in range(4))
    proposals_replace(
        image=a,
        model_version=v1,
        proposals=[
            _proposal(nodule, 2, 2, 8, 8),
            _proposal(nodule, 10, 10, 20, 20),
            _proposal(nodule, 30, 30, 36, 36),
            _proposal(nodule, 50, 50, 56, 56),
        ],
    )
    proposals_replace(
        image=b,
        model_version=v1,
        proposals=[_proposal(nodule, 2, 2, 8, 8), _proposal(nodule, 30, 30, 40, 40)],
    )
    proposals_replace(image=c, model_version=v1, proposals=[])
    proposals_replace(image=d, model_version=v1, proposals=[_proposal(nodule, 2, 2, 8, 8)])

    unchanged, edited, reclassed, rejected = sorted(person.annotations(a).values(), key=_x)
    person.bulk(a, "accept", [unchanged["id"]])
    # the mask grown by half to the right: IoU 100 / 150
    person.patch(edited, status="accepted", **_square(10, 10, 25, 20))
    person.patch(reclassed, status="accepted", label_class=mass.pk)
    person.bulk(a, "reject", [rejected["id"]])
    person.draw(a, nodule, _square(40, 2, 44, 6))
    person.finish(a, 30)

    deleted, kept = sorted(person.annotations(b).values(), key=_x)
    person.delete(deleted)
    person.bulk(b, "accept", [kept["id"]])
    person.finish(b, 50)

    person.draw(c, nodule, _square(2, 2, 6, 6))
    person.draw(c, nodule, _square(20, 20, 26, 26), source="assist")
    person.finish(c, 20)

    value = _value(world)
    assert [v["number"] for v in value["versions"]] == [2, 1]
    first = value["versions"][1]
    assert first == _value(world, 1)
    share = 1 / 6
    assert first == {
        "number": 1,
        "status": "candidate",
        "images": 4,
        "proposals": 7,
        "counts": {
            "proposed": 1,
            "accepted_unchanged": 2,
            "accepted_edited": 1,
            "class_changed": 1,
            "rejected": 1,
            "deleted": 1,
        },
        "proposals_per_image": _figure(1.75, 4),
        "accepted_unchanged": _figure(round(2 / 6, 4), 6),
        "accepted_edited": _figure(round(share, 4), 6),
        "class_changed": _figure(round(share, 4), 6),
        "rejected": _figure(round(share, 4), 6),
        "deleted": _figure(round(share, 4), 6),
        "median_edit_iou": _figure(round(100 / 150, 4), 1),
        # a: one drawn by hand; b: none; c (where it proposed nothing): one by hand, one with
        # box → mask; d is not finished
        "misses_per_image": _figure(1.0, 3),
        "seconds_per_image_with_proposals": _figure(40.0, 2),
        "seconds_per_image_without_proposals": _figure(20.0, 1),
    }
    nothing = value["versions"][0]
    assert nothing["images"] == nothing["proposals"] == 0
    for key in ("proposals_per_image", "accepted_unchanged", "median_edit_iou", "misses_per_image"):
        assert nothing[key] == _figure(None, 0)
    assert value["without_model"] == {"seconds_per_image": _figure(None, 0)}


def test_the_assist_fates_and_the_time_without_a_model(world, person, image_factory):
    nodule = world.instance_class
    image = image_factory()
    taken = person.draw(image, nodule, _square(2, 2, 8, 8), source="assist", status="proposed")
    person.patch(taken, status="accepted")
    person.draw(image, nodule, _square(20, 2, 26, 8), source="assist")
    fixed = person.draw(image, nodule, _square(2, 20, 12, 30), source="assist", status="proposed")
    # a fifth of the mask brushed away (IoU 80 / 100), then accepted
    person.patch(fixed, status="accepted", **_square(2, 20, 12, 28))
    dropped = person.draw(image, nodule, _square(40, 40, 50, 50), source="assist")
    person.delete(dropped)
    person.draw(image, nodule, _square(40, 2, 44, 6), source="assist", status="proposed")
    person.draw(image, nodule, _square(50, 2, 54, 6))
    person.finish(image, 100)

    value = _value(world)
    assert value["versions"] == []
    assist = value["assist"]
    assert assist["proposals"] == 5 and assist["counts"]["proposed"] == 1
    assert assist["accepted_unchanged"] == _figure(0.5, 4)
    assert assist["accepted_edited"] == _figure(0.25, 4)
    assert assist["deleted"] == _figure(0.25, 4)
    assert assist["rejected"] == assist["class_changed"] == _figure(0.0, 4)
    assert assist["median_edit_iou"] == _figure(0.8, 1)
    assert value["without_model"] == {"seconds_per_image": _figure(100.0, 1)}


def test_undoing_an_accept_or_a_delete_undoes_the_fate(world, person, image_factory):
    version = factories.ModelVersionFactory(project=world.project, number=1)
    image = image_factory()
    proposals_replace(
        image=image,
        model_version=version,
        proposals=[
            _proposal(world.instance_class, 2, 2, 8, 8),
            _proposal(world.instance_class, 30, 30, 40, 40),
        ],
    )
    accepted, deleted = sorted(person.annotations(image).values(), key=_x)
    person.bulk(image, "accept", [accepted["id"]])
    person.patch(person.annotations(image)[accepted["id"]], status="proposed")
    person.delete(deleted)
    assert _value(world, 1)["counts"]["deleted"] == 1
    # the viewer's undo of a delete creates the annotation again as it was
    restored = {key: deleted[key] for key in ("box", "mask", "status")}
    again = person.draw(image, world.instance_class, restored)
    person.bulk(image, "accept", [again["id"]])
    person.finish(image, 12)

    figures = _value(world, 1)
    assert figures["counts"] == {
        "proposed": 1,
        "accepted_unchanged": 1,
        "accepted_edited": 0,
        "class_changed": 0,
        "rejected": 0,
        "deleted": 0,
    }
    assert figures["misses_per_image"] == _figure(0.0, 1)


def test_a_deleted_proposal_created_again_with_its_key_is_the_same_proposal(
    world, person, image_factory
):
    version = factories.ModelVersionFactory(project=world.project, number=1)
    image = image_factory()
    proposals_replace(
        image=image, model_version=version, proposals=[_proposal(world.instance_class, 2, 2, 8, 8)]
    )
    (proposal,) = person.annotations(image).values()
    person.delete(proposal)
    # the viewer merged an edit and the delete into one save; its undo brings back the edit
    person.draw(
        image,
        world.instance_class,
        _square(2, 2, 10, 8),
        client_key=proposal["client_key"],
        status="accepted",
    )
    figures = _value(world, 1)
    assert figures["counts"]["deleted"] == 0 and figures["counts"]["accepted_edited"] == 1
    assert figures["median_edit_iou"] == _figure(0.75, 1)


def test_a_rerun_replaces_untouched_proposals_without_counting_them_deleted(
    world, person, image_factory
):
    v1 = factories.ModelVersionFactory(project=world.project, number=1)
    v2 = factories.ModelVersionFactory(project=world.project, number=2)
    image, again = image_factory(), image_factory()
    for _ in range(2):  # the same version twice (a redelivered task): one set
        proposals_replace(
            image=again, model_version=v1, proposals=[_proposal(world.instance_class, 2, 2, 8, 8)]
        )
    spots = [_proposal(world.instance_class, x, x, x + 6, x + 6) for x in (2, 30)]
    proposals_replace(image=image, model_version=v1, proposals=spots)
    kept = min(person.annotations(image).values(), key=_x)
    person.bulk(image, "accept", [kept["id"]])
    proposals_replace(image=image, model_version=v2, proposals=spots[1:])

    value = {v["number"]: v for v in _value(world)["versions"]}
    assert value[1]["proposals"] == 2 and value[1]["images"] == 1
    assert value[1]["counts"]["deleted"] == 0
    assert value[1]["counts"]["accepted_unchanged"] == value[1]["counts"]["proposed"] == 1
    assert value[2]["images"] == 1 and value[2]["proposals_per_image"] == _figure(1.0, 1)
    assert value[2]["counts"]["proposed"] == 1


def test_only_the_projects_admins_see_the_value(world):
    factories.ModelVersionFactory(project=world.project, number=1)
    paths = [
        "/api/projects/chest/model-versions/value/",
        "/api/projects/chest/model-versions/1/value/",
    ]
    for path in paths:
        assert world.client(world.admin).get(path).status_code == 200
        for user in (world.annotator, world.reviewer):
            assert world.client(user).get(path).status_code == 403
        outsider = world.client(world.outsider).get(path)
        assert outsider.status_code == 404 and outsider.data["code"] == "not_found"
        assert world.client().get(path).status_code in (401, 403)
    missing = world.client(world.admin).get("/api/projects/chest/model-versions/7/value/")
    assert missing.status_code == 404
    assert "model version 7" in missing.data["detail"]
