"""Sign-in throttles at their real limit: 429 with Retry-After, keyed on the TCP peer unless a
trusted proxy count is configured, shared by the API's sign-in routes and the admin's login."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

LIMIT = 3
WRONG = {"username": "admin-user", "password": "not-the-password"}


@pytest.fixture
def limited(settings, world):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": f"{LIMIT}/min"},
    }
    cache.clear()
    yield
    cache.clear()


def _sign_in(path="/api/auth/login/", peer="203.0.113.7", **headers):
    return APIClient().post(path, WRONG, format="json", REMOTE_ADDR=peer, **headers)


def _assert_throttled(response):
    assert response.status_code == 429, response.content
    assert 1 <= int(response["Retry-After"]) <= 60


@pytest.mark.parametrize("path", ["/api/auth/login/", "/api/auth/token/"])
def test_sign_in_answers_429_with_retry_after_past_the_limit(limited, path):
    for _ in range(LIMIT):
        assert _sign_in(path).status_code == 400
    response = _sign_in(path)
    _assert_throttled(response)
    assert response.json()["code"] == "throttled"


def test_a_forged_x_forwarded_for_does_not_reset_the_count(limited):
    responses = [_sign_in(HTTP_X_FORWARDED_FOR=f"198.51.100.{n}") for n in range(LIMIT + 1)]
    assert [r.status_code for r in responses[:LIMIT]] == [400] * LIMIT
    _assert_throttled(responses[LIMIT])


def test_each_peer_has_its_own_count(limited):
    for _ in range(LIMIT + 1):
        _sign_in(peer="203.0.113.7")
    assert _sign_in(peer="203.0.113.8").status_code == 400


def test_behind_a_trusted_proxy_the_client_is_read_from_x_forwarded_for(limited, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = "10.0.0.2"
    for n in range(LIMIT):
        # what the client put in front of its real address is ignored
        forwarded = f"1.1.1.{n}, 198.51.100.1"
        assert _sign_in(peer=proxy, HTTP_X_FORWARDED_FOR=forwarded).status_code == 400
    _assert_throttled(_sign_in(peer=proxy, HTTP_X_FORWARDED_FOR="198.51.100.1"))
    assert _sign_in(peer=proxy, HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 400


def test_the_admin_login_is_throttled_and_shares_the_count(limited):
    for _ in range(LIMIT - 1):
        assert _sign_in("/api/auth/token/").status_code == 400
    page = APIClient().post(
        "/admin/login/", {"username": "admin-user", "password": "x"}, REMOTE_ADDR="203.0.113.7"
    )
    assert page.status_code == 200  # the form again, with its error
    refused = APIClient().post(
        "/admin/login/", {"username": "admin-user", "password": "x"}, REMOTE_ADDR="203.0.113.7"
    )
    _assert_throttled(refused)
    _assert_throttled(_sign_in("/api/auth/login/"))
