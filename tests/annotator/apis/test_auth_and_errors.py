"""Scripts use tokens, browsers sessions; errors are JSON that leaks nothing; admin for ops."""

from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from annotator.services import projects as project_services
from tests import factories
from tests.conftest import PASSWORD


def test_token_for_scripts(world):
    client = APIClient()
    wrong = client.post(
        "/api/auth/token/", {"username": "annotator-user", "password": "nope"}, format="json"
    )
    assert (wrong.status_code, wrong.data["code"]) == (400, "invalid_credentials")
    token = client.post(
        "/api/auth/token/", {"username": "annotator-user", "password": PASSWORD}, format="json"
    ).data["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = client.get("/api/auth/me/")
    assert me.status_code == 200
    assert me.data["projects"] == [
        {"slug": "chest", "name": world.project.name, "role": "annotator"}
    ]


def test_anonymous_gets_401_json_not_a_redirect(db):
    response = APIClient().get("/api/projects/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_session_writes_need_the_csrf_token(world):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="admin-user", password=PASSWORD)
    response = client.patch("/api/projects/chest/", {"name": "Renamed"}, format="json")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    world.project.refresh_from_db()
    assert world.project.name != "Renamed"


def _new_token(client):
    response = client.post(
        "/api/auth/token/", {"username": "annotator-user", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.data
    return response.data


def test_api_tokens_are_stored_as_digests_and_expire(world):
    client = APIClient()
    issued = _new_token(client)
    token = issued["token"]
    assert issued["expiry"]
    stored = AuthToken.objects.get(user=world.annotator)
    assert token not in (stored.digest, stored.token_key)
    assert token.encode() not in repr(list(AuthToken.objects.values())).encode()
    assert _new_token(client)["token"] != token, "a new token each time, never the stored one"

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/auth/me/").status_code == 200
    AuthToken.objects.filter(pk=stored.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    expired = client.get("/api/auth/me/")
    assert expired.status_code == 401 and expired.json()["code"] == "authentication_failed"


def test_an_api_token_is_revoked_by_its_user(world):
    client = APIClient()
    token = _new_token(client)["token"]
    other = _new_token(client)["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post("/api/auth/token/revoke/").status_code == 204
    assert client.get("/api/auth/me/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {other}")
    assert client.get("/api/auth/me/").status_code == 200, "only the one revoked"


def test_a_session_cannot_read_or_revoke_tokens(world):
    client = APIClient()
    assert client.login(username="annotator-user", password=PASSWORD)
    assert client.post("/api/auth/token/revoke/").status_code == 401
    assert client.get("/api/auth/token/").status_code in (401, 405)


def test_sign_in_without_the_csrf_token_is_a_json_403(world):
    client = APIClient(enforce_csrf_checks=True)
    response = client.post(
        "/api/auth/login/", {"username": "admin-user", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "permission_denied" and "CSRF" in body["detail"]
    assert "_auth_user_id" not in client.session


def test_a_csrf_failure_outside_the_api_keeps_djangos_page(db):
    response = APIClient(enforce_csrf_checks=True).post(
        "/admin/login/", {"username": "x", "password": "y"}
    )
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")


def test_malformed_json_is_a_400_naming_the_problem(world):
    response = world.client(world.admin).generic(
        "PATCH", "/api/projects/chest/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_an_unexpected_error_is_a_generic_500_with_a_correlation_id(world, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("/secret/path and SELECT password FROM users")

    monkeypatch.setattr(project_services, "project_update", explode)
    client = world.client(world.admin)
    client.raise_request_exception = False
    response = client.patch("/api/projects/chest/", {"name": "x"}, format="json")
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "server_error" and len(body["error_id"]) == 12
    assert "secret" not in response.content.decode() and "SELECT" not in response.content.decode()


@pytest.mark.parametrize(
    "model", apps.get_app_config("annotator").get_models(), ids=lambda m: m.__name__
)
def test_every_model_has_a_working_admin_for_superusers_only(model, db):
    assert admin.site.is_registered(model)
    url = f"/admin/annotator/{model._meta.model_name}/"
    superuser = factories.UserFactory(is_superuser=True, is_staff=True)
    staff = factories.UserFactory(is_staff=True)
    client = APIClient()
    client.force_login(superuser)
    assert client.get(url).status_code == 200
    client.force_login(staff)
    assert client.get(url).status_code == 403


def test_a_large_json_body_to_sign_in_is_refused_before_it_is_parsed(db, monkeypatch):
    from rest_framework import parsers

    parsed = []
    real = parsers.JSONParser.parse
    monkeypatch.setattr(
        parsers.JSONParser, "parse", lambda self, *a, **k: parsed.append(1) or real(self, *a, **k)
    )
    body = '{"username": "a", "password": "' + "x" * 3_000_000 + '"}'
    response = APIClient().post("/api/auth/token/", body, content_type="application/json")
    assert response.status_code == 413 and response.json()["code"] == "request_too_large"
    assert parsed == [], "nothing was parsed"
    small = APIClient().post("/api/auth/token/", {"username": "a", "password": "b"}, format="json")
    assert small.status_code == 400 and parsed == [1]


def test_json_bodies_have_a_small_limit_and_uploads_a_large_one(world, settings):
    settings.RADLABEL_MAX_BODY_BYTES = 2000
    client = world.client(world.admin)
    big = client.post("/api/projects/chest/exports/", {"note": "x" * 5000}, format="json")
    assert big.status_code == 413 and "2000 bytes" in big.json()["detail"]
    ok = client.post("/api/projects/chest/exports/", {"image_format": "none"}, format="json")
    assert ok.status_code != 413
    upload = client.post(
        "/api/projects/chest/uploads/",
        {"files": SimpleUploadedFile("x.dcm", b"\0" * 5000, "application/octet-stream")},
        format="multipart",
    )
    assert (upload.status_code, upload.data["code"]) == (415, "not_dicom_part10"), "read, not 413"
