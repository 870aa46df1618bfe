"""Every API route, every verb, every actor: enumerated from the URLconf so no route is missed.

Objects of a project the caller is not in answer 404 like missing ones; members whose role
does not allow an operation get 403; anonymous callers get 401; a staff user who is in no
project is an outsider everywhere but project creation. Every allowed caller sends a valid
request and gets the route's success code.
"""

import hashlib
import io
import json
import uuid
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from knox.models import AuthToken

from annotator.models import (
    Annotation,
    AnnotationStatus,
    DicomWebEndpoint,
    ExportJob,
    Image,
    ImageStatus,
    JobStatus,
    ModelVersion,
    ModelVersionStatus,
    PacsImportJob,
    Patient,
    Role,
    Split,
    TagSuggestion,
    TrainingJob,
)
from tests import factories
from tests.annotator.apis.test_exports import _accepted_mask, _image
from tests.conftest import PASSWORD
from tests.dicom_files import data_store, pydicom_test_file
from tests.http_listener import Listener

PUBLIC, ANY, LABELLER, REVIEWER, ADMIN = "public", "any", "labeller", "reviewer", "admin"
SERVER_ADMIN = "server admin"  # superusers and staff

# (route name, method) -> who may call it. A route missing here fails the suite.
POLICY = {
    ("health", "get"): PUBLIC,
    ("auth-csrf", "get"): PUBLIC,
    ("auth-login", "post"): PUBLIC,
    ("auth-token", "post"): PUBLIC,
    ("auth-token-revoke", "post"): ANY,
    ("auth-logout", "post"): ANY,
    ("auth-me", "get"): ANY,
    ("schema", "get"): ANY,
    ("api-docs", "get"): ANY,
    ("project-list", "get"): ANY,
    ("project-list", "post"): SERVER_ADMIN,
    ("project-detail", "get"): ANY,
    ("project-detail", "patch"): ADMIN,
    ("label-class-list", "get"): ANY,
    ("label-class-list", "post"): ADMIN,
    ("label-class-detail", "patch"): ADMIN,
    ("label-class-detail", "delete"): ADMIN,
    ("member-list", "get"): ANY,
    ("member-list", "post"): ADMIN,
    ("member-detail", "patch"): ADMIN,
    ("member-detail", "delete"): ADMIN,
    ("split-rebalance", "post"): ADMIN,
    ("upload", "post"): ADMIN,
    ("audit-list", "get"): ADMIN,
    ("patient-list", "get"): ANY,
    ("study-list", "get"): ANY,
    ("image-list", "get"): ANY,
    ("strategy-list", "get"): ANY,
    ("backbone-list", "get"): ANY,
    ("patient-detail", "get"): ANY,
    ("patient-detail", "patch"): ADMIN,
    ("study-detail", "get"): ANY,
    ("study-detail", "delete"): ADMIN,
    ("image-detail", "get"): ANY,
    ("image-detail", "patch"): LABELLER,
    ("image-dicom", "get"): ANY,
    ("image-preview", "get"): ANY,
    ("image-tags", "put"): LABELLER,
    ("image-tag-suggestions", "post"): LABELLER,
    ("image-activity", "post"): LABELLER,
    ("image-release", "post"): ADMIN,
    ("image-segment", "post"): LABELLER,
    ("image-review", "get"): ANY,
    ("image-review", "post"): REVIEWER,
    ("image-comments", "get"): ANY,
    ("image-comments", "post"): LABELLER,
    ("image-lease", "put"): LABELLER,
    ("image-lease", "delete"): LABELLER,
    ("project-next", "post"): LABELLER,
    ("project-agreement", "get"): REVIEWER,
    ("image-reads", "get"): REVIEWER,
    ("image-adjudicate", "post"): REVIEWER,
    ("annotation-list", "get"): ANY,
    ("annotation-list", "post"): LABELLER,
    ("annotation-bulk", "post"): LABELLER,
    ("annotation-batch", "post"): LABELLER,
    ("annotation-detail", "get"): ANY,
    ("annotation-detail", "patch"): LABELLER,
    ("annotation-detail", "delete"): LABELLER,
    ("project-export-list", "get"): ADMIN,
    ("project-export-list", "post"): ADMIN,
    ("export-detail", "get"): ADMIN,
    ("export-download", "get"): ADMIN,
    ("project-coco-import", "post"): ADMIN,
    ("series-seg", "get"): ADMIN,
    ("project-pacs-endpoint-list", "get"): ADMIN,
    ("project-pacs-endpoint-list", "post"): ADMIN,
    ("project-pacs-endpoint-detail", "get"): ADMIN,
    ("project-pacs-endpoint-detail", "delete"): ADMIN,
    ("project-pacs-search", "post"): ADMIN,
    ("project-pacs-import", "post"): ADMIN,
    ("project-pacs-push", "post"): ADMIN,
    ("project-pacs-import-list", "get"): ADMIN,
    ("project-pacs-import-detail", "get"): ADMIN,
    ("training-job-list", "get"): ADMIN,
    ("retrain-status", "get"): ADMIN,
    ("training-job-list", "post"): ADMIN,
    ("training-job-detail", "get"): ADMIN,
    ("training-job-cancel", "post"): ADMIN,
    ("model-version-list", "get"): ANY,
    ("model-value", "get"): ADMIN,
    ("model-version-value", "get"): ADMIN,
    ("model-version-activate", "post"): ADMIN,
    ("preannotate", "post"): ADMIN,
    ("preannotation-job-list", "get"): ADMIN,
    ("preannotation-job-detail", "get"): ADMIN,
    ("preannotation-job-cancel", "post"): ADMIN,
    ("worker-status", "get"): ADMIN,
    ("augmentation", "get"): ADMIN,
    ("augmentation", "put"): ADMIN,
    ("augmentation-preview", "get"): ADMIN,
}
ROLE_ALLOWED = {
    ANY: {Role.ADMIN, Role.ANNOTATOR, Role.REVIEWER},
    LABELLER: {Role.ADMIN, Role.ANNOTATOR, Role.REVIEWER},
    REVIEWER: {Role.ADMIN, Role.REVIEWER},
    ADMIN: {Role.ADMIN},
    SERVER_ADMIN: set(),
}
# "staff": is_staff without being a superuser or a member of any project (it may create
# projects, nothing else); "superuser": admin of every project.
ACTORS = ["anonymous", "outsider", "staff", Role.ANNOTATOR, Role.REVIEWER, Role.ADMIN, "superuser"]
OBJECT_ROUTES = {
    "project-list",
    "auth-logout",
    "auth-me",
    "auth-token-revoke",
    "strategy-list",
    "backbone-list",
    "schema",
    "api-docs",
}
CT = data_store("693_UNCI.dcm").read_bytes()


@pytest.fixture(scope="module")
def pacs_server():
    """A DICOMweb server that finds nothing and stores what it is sent: searches and pushes
    succeed without reaching a real PACS."""
    server = Listener(
        answer=lambda path: (200, b"{}" if path.endswith("/studies") else b"[]", None)
    )
    yield f"http://127.0.0.1:{server.port}/dicom-web"
    server.close()


def _api_routes():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and (prefix + str(pattern.pattern)).startswith(
                "api/"
            ):
                view = pattern.callback
                cls = getattr(view, "cls", None) or getattr(view, "view_class", None)
                methods = [m for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m)]
                for method in methods:
                    yield pattern.name, method

    return sorted(set(walk(get_resolver().url_patterns)))


ROUTES = _api_routes()


def _coco_file(o):
    document = {
        "images": [{"id": o["image"].pk, "width": 64, "height": 64}],
        "categories": [{"id": 1, "name": "nodule"}],
        "annotations": [
            {"id": 1, "image_id": o["image"].pk, "category_id": 1, "bbox": [1, 1, 5, 5]}
        ],
    }
    return SimpleUploadedFile("instances.json", json.dumps(document).encode(), "application/json")


def _json(body):
    return lambda o: {"data": body(o) if callable(body) else body, "format": "json"}


# (route name, method) -> (the success status an allowed caller gets, the request that earns
# it). Every write sends a body its route accepts; SETUP gives a route what its success needs.
SUCCESS = {
    ("health", "get"): (200, None),
    ("auth-csrf", "get"): (204, None),
    ("auth-login", "post"): (200, _json({"username": "admin-user", "password": PASSWORD})),
    ("auth-token", "post"): (200, _json({"username": "admin-user", "password": PASSWORD})),
    ("auth-token-revoke", "post"): (204, None),
    ("auth-logout", "post"): (204, None),
    ("auth-me", "get"): (200, None),
    ("schema", "get"): (200, None),
    ("api-docs", "get"): (200, None),
    ("project-list", "get"): (200, None),
    ("project-list", "post"): (201, _json({"slug": "new-project", "name": "New project"})),
    ("project-detail", "get"): (200, None),
    ("project-detail", "patch"): (200, _json({"name": "Renamed"})),
    ("label-class-list", "get"): (200, None),
    ("label-class-list", "post"): (201, _json({"name": "mass", "color": "#00ff00"})),
    ("label-class-detail", "patch"): (200, _json({"name": "renamed"})),
    ("label-class-detail", "delete"): (204, None),
    ("member-list", "get"): (200, None),
    ("member-list", "post"): (
        201,
        _json(lambda o: {"username": o["newcomer"].username, "role": "annotator"}),
    ),
    ("member-detail", "patch"): (200, _json({"role": "reviewer"})),
    ("member-detail", "delete"): (204, None),
    ("split-rebalance", "post"): (
        200,
        _json({"split_ratios": {"train": 70, "val": 15, "test": 15}}),
    ),
    ("upload", "post"): (
        201,
        lambda o: {
            "data": {"files": [SimpleUploadedFile("ct.dcm", CT, "application/dicom")]},
            "format": "multipart",
        },
    ),
    ("audit-list", "get"): (200, None),
    ("patient-list", "get"): (200, None),
    ("study-list", "get"): (200, None),
    ("image-list", "get"): (200, None),
    ("strategy-list", "get"): (200, None),
    ("backbone-list", "get"): (200, None),
    ("patient-detail", "get"): (200, None),
    ("patient-detail", "patch"): (200, _json({"split": "val"})),
    ("study-detail", "get"): (200, None),
    ("study-detail", "delete"): (204, None),
    ("image-detail", "get"): (200, None),
    ("image-detail", "patch"): (200, _json({"status": "done"})),
    ("image-dicom", "get"): (200, None),
    ("image-preview", "get"): (200, None),
    ("image-tags", "put"): (200, _json(lambda o: {"label_class_ids": [o["tag_class"].pk]})),
    ("image-tag-suggestions", "post"): (
        200,
        _json(lambda o: {"label_class": o["tag_class"].pk, "decision": "rejected"}),
    ),
    ("image-activity", "post"): (200, _json({"seconds": 5})),
    ("image-release", "post"): (204, None),
    ("image-review", "get"): (200, None),
    ("image-review", "post"): (200, _json({"decision": "accept"})),
    ("image-comments", "get"): (200, None),
    ("image-comments", "post"): (201, _json({"body": "The margin is missed."})),
    ("image-lease", "put"): (200, None),
    ("image-lease", "delete"): (204, None),
    ("project-next", "post"): (200, None),
    ("project-agreement", "get"): (200, None),
    ("image-reads", "get"): (200, None),
    ("image-adjudicate", "post"): (200, _json({"picks": [], "tags": []})),
    ("image-segment", "post"): (
        200,
        _json(lambda o: {"box": [10, 10, 40, 40], "label_class": o["instance_class"].pk}),
    ),
    ("annotation-list", "get"): (200, None),
    ("annotation-list", "post"): (
        201,
        _json(
            lambda o: {
                "client_key": str(uuid.uuid4()),
                "label_class": o["instance_class"].pk,
                "box": [1, 1, 5, 5],
            }
        ),
    ),
    ("annotation-bulk", "post"): (
        200,
        _json(lambda o: {"action": "accept", "ids": [o["annotation"].pk]}),
    ),
    ("annotation-batch", "post"): (
        200,
        _json(
            lambda o: {"update": [{"id": o["annotation"].pk, "version": 1, "box": [2, 2, 5, 5]}]}
        ),
    ),
    ("annotation-detail", "get"): (200, None),
    ("annotation-detail", "patch"): (200, _json({"version": 1, "box": [2, 2, 5, 5]})),
    ("annotation-detail", "delete"): (204, lambda o: {"headers": {"If-Match": '"1"'}}),
    ("project-export-list", "get"): (200, None),
    ("project-export-list", "post"): (202, _json({})),
    ("export-detail", "get"): (200, None),
    ("export-download", "get"): (200, None),
    ("project-coco-import", "post"): (
        200,
        lambda o: {"data": {"file": _coco_file(o)}, "format": "multipart"},
    ),
    ("series-seg", "get"): (200, None),
    ("project-pacs-endpoint-list", "get"): (200, None),
    ("project-pacs-endpoint-list", "post"): (
        201,
        _json(lambda o: {"name": "second", "url": o["endpoint"].url}),
    ),
    ("project-pacs-endpoint-detail", "get"): (200, None),
    ("project-pacs-endpoint-detail", "delete"): (204, None),
    ("project-pacs-search", "post"): (200, _json({"modality": "CT"})),
    ("project-pacs-import", "post"): (202, _json({"study_uids": ["1.2.3.4"]})),
    ("project-pacs-push", "post"): (201, _json(lambda o: {"series": o["masked_series"].pk})),
    ("project-pacs-import-list", "get"): (200, None),
    ("project-pacs-import-detail", "get"): (200, None),
    ("training-job-list", "get"): (200, None),
    ("retrain-status", "get"): (200, None),
    ("training-job-list", "post"): (202, _json({"epochs": 1})),
    ("training-job-detail", "get"): (200, None),
    ("training-job-cancel", "post"): (202, None),
    ("model-version-list", "get"): (200, None),
    ("model-value", "get"): (200, None),
    ("model-version-value", "get"): (200, None),
    ("model-version-activate", "post"): (200, None),
    ("preannotate", "post"): (202, _json({})),
    ("preannotation-job-list", "get"): (200, None),
    ("preannotation-job-detail", "get"): (200, None),
    ("preannotation-job-cancel", "post"): (202, None),
    ("worker-status", "get"): (200, None),
    ("augmentation", "get"): (200, None),
    ("augmentation", "put"): (200, _json({"settings": {"vflip": {"enabled": True}}})),
    ("augmentation-preview", "get"): (200, lambda o: {"data": {"image": o["image"].pk, "n": 1}}),
}


def _trainable(o, world):
    """No job in the way, and an accepted label in the train split."""
    TrainingJob.objects.filter(pk=o["training_job"].pk).update(status=JobStatus.SUCCEEDED)
    Patient.objects.filter(pk=o["image"].series.study.patient_id).update(split=Split.TRAIN)
    Annotation.objects.filter(pk=o["annotation"].pk).update(status=AnnotationStatus.ACCEPTED)


def _active_model(o, world):
    ModelVersion.objects.filter(pk=o["model_version"].pk).update(status=ModelVersionStatus.ACTIVE)


def _finished_export(o, world):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("annotations/instances_train.json", "{}")
    name = default_storage.save(f"exports/{o['export'].pk}.zip", ContentFile(buffer.getvalue()))
    ExportJob.objects.filter(pk=o["export"].pk).update(
        status=JobStatus.SUCCEEDED,
        result_file=name,
        result_sha256=hashlib.sha256(buffer.getvalue()).hexdigest(),
    )


def _masked_series(o, world):
    """A real CT slice with an accepted mask, whose series has a DICOM-SEG to give."""
    image = _image(world, pydicom_test_file("CT_small.dcm").read_bytes())
    _accepted_mask(world, image, 5, 5, 12)
    o["masked_series"] = image.series


def _real_image(o, world):
    """A real CT slice in place of the shared image: box → mask reads its pixels."""
    o["image"] = _image(world, pydicom_test_file("CT_small.dcm").read_bytes())


def _tag_suggestion(o, world):
    """A pending suggestion of the project's tag on the shared image."""
    TagSuggestion.objects.create(
        image=o["image"],
        label_class=o["tag_class"],
        probability=0.8,
        threshold=0.5,
        uncertainty=0.7,
    )


def _submitted(o, world):
    """The shared image, marked done: a reviewer may accept it."""
    Image.objects.filter(pk=o["image"].pk).update(status=ImageStatus.DONE)


# What a route's successful request needs beyond the shared objects.
SETUP = {
    ("image-review", "post"): _submitted,
    ("image-adjudicate", "post"): _submitted,
    ("image-tag-suggestions", "post"): _tag_suggestion,
    ("training-job-list", "post"): _trainable,
    ("preannotate", "post"): _active_model,
    ("export-download", "get"): _finished_export,
    ("series-seg", "get"): _masked_series,
    ("project-pacs-push", "post"): _masked_series,
    ("image-segment", "post"): _real_image,
    ("augmentation-preview", "get"): _real_image,
}


def test_every_api_route_has_a_policy_and_a_successful_request():
    assert set(ROUTES) == set(POLICY)
    assert set(ROUTES) == set(SUCCESS)


def _route(name):
    return next(
        str(p.pattern) for p in get_resolver("annotator.urls").url_patterns if p.name == name
    )


def _kwargs(name, objects):
    kwargs = {}
    route = _route(name) if name not in ("schema", "api-docs") else ""
    if "<slug:slug>" in route:
        kwargs["slug"] = "chest"
    pk = {
        "label-class-detail": objects["label_class"].pk,
        "member-detail": objects["membership"].pk,
        "patient-detail": objects["image"].series.study.patient_id,
        "study-detail": objects["image"].series.study_id,
        "annotation-detail": objects["annotation"].pk,
        "export-detail": objects["export"].pk,
        "export-download": objects["export"].pk,
        "series-seg": objects.get("masked_series", objects["image"].series).pk,
        "project-pacs-endpoint-detail": objects["endpoint"].pk,
        "project-pacs-search": objects["endpoint"].pk,
        "project-pacs-import": objects["endpoint"].pk,
        "project-pacs-push": objects["endpoint"].pk,
        "project-pacs-import-detail": objects["pacs_import"].pk,
        "training-job-detail": objects["training_job"].pk,
        "training-job-cancel": objects["training_job"].pk,
        "preannotation-job-detail": objects["preannotation_job"].pk,
        "preannotation-job-cancel": objects["preannotation_job"].pk,
        "model-version-activate": objects["model_version"].pk,
    }.get(name)
    if (
        name.startswith(("image-", "annotation-list", "annotation-bulk", "annotation-batch"))
        and name != "image-list"
    ):
        pk = objects["image"].pk
    if pk is not None:
        kwargs["pk"] = pk
    if name == "model-version-value":
        kwargs["number"] = objects["model_version"].number
    return kwargs


def _objects(world, media_root, pacs_url):
    image = factories.ImageFactory(instance__series__study__patient__project=world.project)
    (media_root / image.instance.file).parent.mkdir(parents=True, exist_ok=True)
    (media_root / image.instance.file).write_bytes(b"DICM")
    (media_root / image.preview).parent.mkdir(parents=True, exist_ok=True)
    (media_root / image.preview).write_bytes(b"PNG")
    return {
        "image": image,
        "annotation": factories.AnnotationFactory(image=image, label_class=world.instance_class),
        "instance_class": world.instance_class,
        "tag_class": world.tag_class,
        "label_class": factories.LabelClassFactory(project=world.project, name="spare"),
        "membership": factories.MembershipFactory(project=world.project),
        "newcomer": factories.UserFactory(username="newcomer"),
        "export": ExportJob.objects.create(project=world.project),
        "endpoint": (
            endpoint := DicomWebEndpoint.objects.create(
                project=world.project, name="pacs", url=pacs_url
            )
        ),
        "pacs_import": PacsImportJob.objects.create(project=world.project, endpoint=endpoint),
        "training_job": factories.TrainingJobFactory(project=world.project),
        "preannotation_job": factories.PreannotationJobFactory(project=world.project),
        "model_version": factories.ModelVersionFactory(project=world.project),
    }


def _user(world, actor):
    if actor == "staff":
        return factories.UserFactory(username="staff-user", is_staff=True)
    if actor == "superuser":
        return factories.UserFactory(username="root-user", is_staff=True, is_superuser=True)
    return {
        "anonymous": None,
        "outsider": world.outsider,
        Role.ANNOTATOR: world.annotator,
        Role.REVIEWER: world.reviewer,
        Role.ADMIN: world.admin,
    }[actor]


def _allowed(policy, actor, name):
    if policy == PUBLIC or actor == "superuser":
        return True
    if actor in ("outsider", "staff"):
        return (name in OBJECT_ROUTES and policy == ANY) or (
            actor == "staff" and policy == SERVER_ADMIN
        )
    return actor in ROLE_ALLOWED[policy]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(("name", "method"), ROUTES)
def test_route_answers_by_role(world, name, method, actor, media_root, settings, pacs_server):
    settings.RADLABEL_PACS_ALLOWED_HOSTS = ["127.0.0.1"]
    objects = _objects(world, media_root, pacs_server)
    if (name, method) in SETUP:
        SETUP[(name, method)](objects, world)
    url = reverse(name, kwargs=_kwargs(name, objects))
    user = _user(world, actor)
    client = world.client(user)
    if name == "auth-token-revoke" and user is not None:  # signed in with the token it revokes
        client.force_authenticate(user, token=AuthToken.objects.create(user=user)[0])
    expected, request = SUCCESS[(name, method)]
    response = getattr(client, method)(url, **(request(objects) if request else {}))
    policy = POLICY[(name, method)]
    status = response.status_code
    answer = (status, getattr(response, "data", None))
    if actor == "anonymous" and policy != PUBLIC:
        assert status == 401, answer
    elif _allowed(policy, actor, name):
        assert status == expected, answer
    elif actor in ("outsider", "staff") and name not in OBJECT_ROUTES:
        assert status == 404, answer
        assert response.json() == {"code": "not_found", "detail": "Not found."}
    else:
        assert status == 403, answer
