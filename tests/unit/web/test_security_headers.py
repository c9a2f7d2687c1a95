"""The security headers every response carries (bot/web/__init__.py), pay pages included."""

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.console import form_token
from tests.unit.web.test_pay import token_for

EXPECTED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def check(response):
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, name
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_the_pay_page_and_its_invalid_link_page(app, client, db, demo_debtors):
    _, token = token_for(app, db)
    check(client.get(f"/pay/{token}"))
    check(client.get("/pay/not-a-token"))
    check(client.post(f"/pay/{token}/plan", data={"count": "x"}))


@pytest.mark.parametrize("path", ["/console/login", "/console/", "/healthz", "/nowhere"])
def test_console_health_and_errors(client, path):
    check(client.get(path))


def test_static_files_may_be_cached(client):
    response = client.get("/static/console.css")
    assert response.status_code == 200 and "no-store" not in response.headers.get(
        "Cache-Control", ""
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_redis_down_in_a_request_is_a_503_with_retry_after(https, monkeypatch):
    from bot.web.console import auth

    def down(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(auth, "_count_attempt", down)
    token = form_token(https)
    response = https.post(
        "/console/login", data={"email": "a@example.com", "password": "x", "csrf_token": token}
    )
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    check(response)
