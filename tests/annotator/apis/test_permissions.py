"""Every API route, every verb, every actor: enumerated from the URLconf so no route is missed.

Objects of a project the caller is not in answer 404 like missing ones; members whose role
does not allow an operation get 403; anonymous callers get 401.
"""

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from annotator.models import DicomWebEndpoint, ExportJob, PacsImportJob, Role
from tests import factories

PUBLIC, ANY, LABELLER, ADMIN = "public", "any", "labeller", "admin"

# (route name, method) -> who may call it. A route missing here fails the suite.
POLICY = {
    ("health", "get"): PUBLIC,
    ("auth-csrf", "get"): PUBLIC,
    ("auth-login", "post"): PUBLIC,
    ("auth-token", "post"): PUBLIC,
    ("auth-logout", "post"): ANY,
    ("auth-me", "get"): ANY,
    ("schema", "get"): ANY,
    ("api-docs", "get"): ANY,
    ("project-list", "get"): ANY,
    ("project-list", "post"): "superuser",
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
    ("patient-detail", "get"): ANY,
    ("patient-detail", "patch"): ADMIN,
    ("study-detail", "get"): ANY,
    ("study-detail", "delete"): ADMIN,
    ("image-detail", "get"): ANY,
    ("image-detail", "patch"): LABELLER,
    ("image-dicom", "get"): ANY,
    ("image-preview", "get"): ANY,
    ("image-tags", "put"): LABELLER,
    ("image-activity", "post"): LABELLER,
    ("image-release", "post"): ADMIN,
    ("annotation-list", "get"): ANY,
    ("annotation-list", "post"): LABELLER,
    ("annotation-bulk", "post"): LABELLER,
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
    ("training-job-list", "post"): ADMIN,
    ("training-job-detail", "get"): ADMIN,
    ("training-job-cancel", "post"): ADMIN,
    ("model-version-list", "get"): ANY,
    ("model-version-activate", "post"): ADMIN,
    ("preannotate", "post"): ADMIN,
    ("preannotation-job-list", "get"): ADMIN,
    ("preannotation-job-detail", "get"): ADMIN,
    ("preannotation-job-cancel", "post"): ADMIN,
    ("worker-status", "get"): ADMIN,
}
ROLE_ALLOWED = {
    ANY: {Role.ADMIN, Role.ANNOTATOR, Role.REVIEWER},
    LABELLER: {Role.ADMIN, Role.ANNOTATOR, Role.REVIEWER},
    ADMIN: {Role.ADMIN},
    "superuser": set(),
}
ACTORS = ["anonymous", "outsider", Role.ANNOTATOR, Role.REVIEWER, Role.ADMIN]
OBJECT_ROUTES = {"project-list", "auth-logout", "auth-me", "schema", "api-docs"}


def _endpoint(project):
    return DicomWebEndpoint.objects.create(
        project=project, name="pacs", url="http://pacs.invalid/dicom-web"
    )


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


def test_every_api_route_has_a_policy():
    assert set(ROUTES) == set(POLICY)


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
        "series-seg": objects["image"].series_id,
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
    if name.startswith(("image-", "annotation-list", "annotation-bulk")) and name != "image-list":
        pk = objects["image"].pk
    if pk is not None:
        kwargs["pk"] = pk
    return kwargs


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(("name", "method"), ROUTES)
def test_route_answers_by_role(world, name, method, actor, media_root):
    from django.urls import reverse

    image = factories.ImageFactory(instance__series__study__patient__project=world.project)
    (media_root / image.instance.file).parent.mkdir(parents=True, exist_ok=True)
    (media_root / image.instance.file).write_bytes(b"DICM")
    (media_root / image.preview).parent.mkdir(parents=True, exist_ok=True)
    (media_root / image.preview).write_bytes(b"PNG")
    objects = {
        "image": image,
        "annotation": factories.AnnotationFactory(image=image, label_class=world.instance_class),
        "label_class": factories.LabelClassFactory(project=world.project, name="spare"),
        "membership": factories.MembershipFactory(project=world.project),
        "export": ExportJob.objects.create(project=world.project),
        "endpoint": (endpoint := _endpoint(world.project)),
        "pacs_import": PacsImportJob.objects.create(project=world.project, endpoint=endpoint),
        "training_job": factories.TrainingJobFactory(project=world.project),
        "preannotation_job": factories.PreannotationJobFactory(project=world.project),
        "model_version": factories.ModelVersionFactory(project=world.project),
    }
    url = reverse(name, kwargs=_kwargs(name, objects))
    user = {
        "anonymous": None,
        "outsider": world.outsider,
        Role.ANNOTATOR: world.annotator,
        Role.REVIEWER: world.reviewer,
        Role.ADMIN: world.admin,
    }[actor]
    client = world.client(user)
    body = {"client_key": str(uuid.uuid4())}
    response = (
        getattr(client, method)(url, body, format="json") if method != "get" else (client.get(url))
    )
    policy = POLICY[(name, method)]
    status = response.status_code
    if policy == PUBLIC:
        assert status not in (401, 403, 404, 500), (status, getattr(response, "data", None))
    elif actor == "anonymous":
        assert status == 401
    elif actor == "outsider":
        if name in OBJECT_ROUTES:
            assert status not in (401, 404, 500)
            if policy == "superuser":
                assert status == 403
        else:
            assert status == 404, (status, getattr(response, "data", None))
            assert response.json() == {"code": "not_found", "detail": "Not found."}
    elif actor in ROLE_ALLOWED[policy]:
        assert status not in (401, 403, 404, 500), (status, getattr(response, "data", None))
    else:
        assert status == 403, (status, getattr(response, "data", None))
