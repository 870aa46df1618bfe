"""What a script sends is what the API reads: a body key an endpoint does not take is a 400
naming it, before anything is started or stored; answers carry the ids a script needs next."""

import json
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from drf_spectacular.generators import SchemaGenerator

from annotator.models import (
    Annotation,
    DicomWebEndpoint,
    ExportJob,
    Image,
    PacsImportJob,
    PreannotationJob,
    Project,
    Source,
    TrainingJob,
)
from tests import factories
from tests.dicom_files import data_store

CT = data_store("693_UNCI.dcm").read_bytes()


@pytest.fixture
def endpoint(world):
    return DicomWebEndpoint.objects.create(
        project=world.project, name="pacs", url="http://127.0.0.1:9/dicom-web"
    )


@pytest.fixture
def image(world):
    return factories.ImageFactory(
        instance__project=world.project,
        instance__series__study__project=world.project,
    )


def _files(media_root):
    return [p for p in media_root.rglob("*") if p.is_file()] if media_root.exists() else []


def _refused(response, field):
    assert response.status_code == 400, response.data
    assert response.data["code"] == "invalid"
    assert "Unknown field" in response.data["errors"][field][0], response.data


@pytest.mark.parametrize(
    ("path", "body", "field", "stored"),
    [
        ("/api/projects/chest/exports/", {"format": "yolo"}, "format", ExportJob),
        ("/api/projects/chest/training-jobs/", {"epoch": 3}, "epoch", TrainingJob),
        ("/api/projects/chest/preannotate/", {"image_id": [1]}, "image_id", PreannotationJob),
        ("/api/projects/chest/splits/rebalance/", {"ratios": {}}, "ratios", None),
        ("/api/projects/chest/members/", {"user": "x", "role": "annotator"}, "user", None),
    ],
)
def test_an_unknown_option_is_refused_by_name_and_nothing_starts(
    world, media_root, broker, path, body, field, stored
):
    response = world.client(world.admin).post(path, body, format="json")
    _refused(response, field)
    if stored is not None:
        assert not stored.objects.exists()
    assert not _files(media_root)


def test_the_refusal_lists_the_fields_the_endpoint_takes(world):
    response = world.client(world.admin).post(
        "/api/projects/chest/exports/", {"format": "yolo", "split": "test"}, format="json"
    )
    [message] = response.data["errors"]["format"]
    assert "split" in message and "image_format" in message and "segmentation" in message
    assert "split" not in response.data["errors"]


def test_a_misspelt_export_option_next_to_good_ones_exports_nothing(world, broker):
    response = world.client(world.admin).post(
        "/api/projects/chest/exports/",
        {"split": "test", "include_proposal": True},
        format="json",
    )
    _refused(response, "include_proposal")
    assert not ExportJob.objects.exists()


def test_pacs_bodies_refuse_unknown_fields_and_nothing_is_contacted_or_stored(
    world, endpoint, broker
):
    client = world.client(world.admin)
    base = f"/api/projects/chest/pacs/endpoints/{endpoint.pk}"
    for path, body, field in (
        (
            "/api/projects/chest/pacs/endpoints/",
            {"name": "b", "url": "http://127.0.0.1:9/", "password": "s"},
            "password",
        ),
        (f"{base}/search/", {"patientid": "123"}, "patientid"),
        (f"{base}/imports/", {"study_uids": ["1.2.3"], "studies": ["1.2.4"]}, "studies"),
        (f"{base}/stow/", {"series": 1, "segment": 1}, "segment"),
    ):
        _refused(client.post(path, body, format="json"), field)
    assert list(DicomWebEndpoint.objects.values_list("pk", flat=True)) == [endpoint.pk]
    assert not PacsImportJob.objects.exists()


def test_a_coco_import_with_an_unknown_form_field_imports_nothing(world, image):
    coco = {
        "images": [{"id": 1, "file_name": "x.dcm", "width": 64, "height": 64}],
        "annotations": [],
        "categories": [{"id": 1, "name": "nodule"}],
    }
    response = world.client(world.admin).post(
        "/api/projects/chest/imports/coco/",
        {
            "file": SimpleUploadedFile("c.json", json.dumps(coco).encode()),
            "keep_split": "true",
        },
        format="multipart",
    )
    _refused(response, "keep_split")
    assert not Annotation.objects.exists()


def test_an_upload_with_an_unknown_form_field_stores_nothing(world, media_root):
    response = world.client(world.admin).post(
        "/api/projects/chest/uploads/",
        {"files": [SimpleUploadedFile("ct.dcm", CT)], "project": "other"},
        format="multipart",
    )
    _refused(response, "project")
    assert not Image.objects.exists()
    assert not _files(media_root)


def test_segment_refuses_a_misspelt_window(world, image):
    response = world.client(world.annotator).post(
        f"/api/images/{image.pk}/segment/",
        {"box": [1, 2, 30, 40], "label_class": world.instance_class.pk, "windw": [40, 400]},
        format="json",
    )
    _refused(response, "windw")


def _annotation(world, image, **fields):
    response = world.client(world.annotator).post(
        f"/api/images/{image.pk}/annotations/",
        {
            "client_key": str(uuid.uuid4()),
            "label_class": world.instance_class.pk,
            "box": [1, 1, 10, 10],
            **fields,
        },
        format="json",
    )
    return response


def test_annotation_saves_refuse_unknown_fields_at_every_level(world, image):
    _refused(_annotation(world, image, colour="red"), "colour")
    nested = _annotation(world, image, mask={"size": [64, 64], "counts": "0", "order": "F"})
    assert nested.status_code == 400
    assert "order" in nested.data["errors"]["mask"]
    assert not Annotation.objects.exists()
    created = _annotation(world, image)
    assert created.status_code == 201, created.data
    edit = world.client(world.annotator).patch(
        f"/api/annotations/{created.data['id']}/",
        {"lable_class": world.instance_class.pk},
        format="json",
        headers={"If-Match": '"1"'},
    )
    _refused(edit, "lable_class")
    assert Annotation.objects.get().version == 1


def test_a_save_may_send_a_labels_source_back_but_not_change_it(world, image):
    created = _annotation(world, image, source=Source.ASSIST)
    url = f"/api/annotations/{created.data['id']}/"
    client = world.client(world.annotator)
    same = client.patch(
        url,
        {"source": Source.ASSIST, "box": [2, 2, 10, 10]},
        format="json",
        headers={"If-Match": '"1"'},
    )
    assert same.status_code == 200, same.data
    assert (same.data["source"], same.data["box"]) == (Source.ASSIST, [2, 2, 10, 10])
    changed = client.patch(
        url, {"source": Source.HUMAN}, format="json", headers={"If-Match": '"2"'}
    )
    assert changed.status_code == 400
    assert "cannot change" in changed.data["errors"]["source"][0]
    assert Annotation.objects.get().source == Source.ASSIST


def test_a_box_with_a_negative_width_says_so(world, image):
    response = _annotation(world, image, box=[20, 20, -5, 10])
    assert response.status_code == 400
    assert response.data["code"] == "invalid_box"
    assert "negative width" in response.data["detail"], response.data
    assert "outside" not in response.data["detail"]
    both = _annotation(world, image, box=[20, 20, -5, -1])
    assert "negative width and height" in both.data["detail"]


def test_creating_a_project_answers_with_its_label_classes_and_their_ids(world):
    admin = factories.UserFactory(username="root", is_superuser=True)
    response = world.client(admin).post(
        "/api/projects/",
        {
            "slug": "lungs",
            "name": "Lungs",
            "label_classes": [
                {"name": "nodule", "color": "#ff0000"},
                {"name": "normal", "color": "#00ff00", "kind": "tag"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.data
    project = Project.objects.get(slug="lungs")
    assert response.data["label_classes"] == [
        {
            "id": c.pk,
            "name": c.name,
            "color": c.color,
            "kind": c.kind,
            "order": c.order,
            "segment_type": c.segment_type,
            "is_active": True,
        }
        for c in project.label_classes.order_by("order")
    ]
    assert [c["name"] for c in response.data["label_classes"]] == ["nodule", "normal"]


def test_a_misspelt_label_class_field_creates_no_project(world):
    admin = factories.UserFactory(username="root", is_superuser=True)
    response = world.client(admin).post(
        "/api/projects/",
        {"slug": "lungs", "name": "Lungs", "label_classes": [{"name": "n", "colour": "#ff0000"}]},
        format="json",
    )
    assert response.status_code == 400
    assert "colour" in response.data["errors"]["label_classes"][0]
    assert not Project.objects.filter(slug="lungs").exists()


def _schema_of(document, schema):
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_request_body_is_documented_as_closed():
    document = SchemaGenerator().get_schema(request=None, public=True)
    open_bodies = [
        (method.upper(), path, media)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for media, content in operation.get("requestBody", {}).get("content", {}).items()
        if _schema_of(document, content["schema"]).get("additionalProperties") is not False
    ]
    assert not open_bodies
