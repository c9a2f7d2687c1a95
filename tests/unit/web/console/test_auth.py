import pytest
from flask import Blueprint
from redis import Redis

from bot import users
from bot.models import AuditEvent, User
from bot.web.console.auth import FAILURES_PER_EMAIL, login_required
from tests.console import PASSWORD, form_token, https_client


@pytest.fixture
def agent(db):
    user, _ = users.create_user(db, "Agent@Example.com", PASSWORD, "agent")
    db.commit()
    return user


csrf = form_token


def login(client, email="agent@example.com", password=PASSWORD, token=None):
    token = token or csrf(client)
    return client.post(
        "/console/login", data={"email": email, "password": password, "csrf_token": token}
    )


def test_create_user_hashes_the_password_and_validates(db):
    user, created = users.create_user(db, " Ana@Example.com ", PASSWORD, "admin")
    db.commit()
    assert created and user.email == "ana@example.com"
    assert user.password_hash.startswith("scrypt:") and PASSWORD not in user.password_hash
    with pytest.raises(users.UserError, match="at least 12"):
        users.create_user(db, "b@example.com", "short", "agent")
    with pytest.raises(users.UserError, match="role must be"):
        users.create_user(db, "b@example.com", PASSWORD, "root")
    with pytest.raises(users.UserError, match="not an e-mail"):
        users.create_user(db, "nobody", PASSWORD, "agent")


def test_create_user_command(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-user", "ops@example.com", "--role", "agent"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "created agent ops@example.com" in result.output
    assert PASSWORD not in result.output
    bad = runner.invoke(
        args=["create-user", "x@example.com", "--role", "agent", "--password", "short"]
    )
    assert bad.exit_code != 0 and "at least 12" in bad.output
    assert db.query(User).count() == 1


def test_pages_need_sign_in(https):
    response = https.get("/console/")
    assert response.status_code == 302 and "/console/login" in response.location
    assert (
        https.get("/console/api/queue", headers={"Accept": "application/json"}).status_code == 401
    )


def test_sign_in_sets_a_hardened_cookie_and_opens_the_queue(https, agent, db):
    response = login(https)
    assert response.status_code == 302 and response.location.endswith("/console/")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
    page = https.get("/console/")
    assert page.status_code == 200 and "agent@example.com" in page.get_data(as_text=True)
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"
    assert db.query(AuditEvent).filter_by(action="user.signed_in").count() == 1


def test_wrong_password_and_missing_csrf_are_refused(https, agent):
    assert login(https, password="wrong password!").status_code == 401
    no_token = https.post(
        "/console/login", data={"email": "agent@example.com", "password": PASSWORD}
    )
    assert no_token.status_code == 400
    assert https.get("/console/").status_code == 302


def test_a_successful_sign_in_resets_the_count(https, agent):
    token = csrf(https)
    for _ in range(FAILURES_PER_EMAIL - 1):
        login(https, password="not the password", token=token)
    assert login(https, token=token).status_code == 302
    token = csrf(https, "/console/")
    https.post("/console/logout", data={"csrf_token": token})
    token = csrf(https)
    for _ in range(FAILURES_PER_EMAIL - 1):
        assert login(https, password="not the password", token=token).status_code == 401
    assert login(https, token=token).status_code == 302


def test_sign_in_slows_down_a_guesser_without_locking_the_agent_out(app, https, agent):
    token = csrf(https)
    for _ in range(FAILURES_PER_EMAIL):
        assert login(https, password="not the password", token=token).status_code == 401
    assert login(https, password="not the password", token=token).status_code == 401  # 2 s
    waiting = login(https, token=token)  # the next try waits its delay, even the right one
    assert waiting.status_code == 429 and int(waiting.headers["Retry-After"]) <= 2
    assert "Too many failed sign-ins" in waiting.get_data(as_text=True)
    # The real agent elsewhere is not held back by a stranger's guesses.
    elsewhere = https_client(app)
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert login(elsewhere).status_code == 302
    # And the guesser's own delay passes: then the right password works there too.
    Redis.from_url(app.config["REDIS_URL"]).delete(*_slots(app))
    assert login(https, token=token).status_code == 302


def _slots(app):
    return Redis.from_url(app.config["REDIS_URL"]).keys("console:login-fail:*:slot")


def test_parallel_guesses_past_the_limit_get_one_try_per_delay(app, https, agent):
    token = csrf(https)
    for _ in range(FAILURES_PER_EMAIL):
        login(https, password="not the password", token=token)
    answers = [login(https, password="guess", token=token).status_code for _ in range(5)]
    assert answers == [401, 429, 429, 429, 429]
    assert _slots(app)


def test_logout_really_ends_the_session(https, agent):
    login(https)
    stolen = https.get_cookie("console_session").value
    token = csrf(https, "/console/")
    assert https.post("/console/logout", data={"csrf_token": token}).status_code == 302
    assert https.get("/console/").status_code == 302
    https.set_cookie("console_session", stolen, secure=True)  # a copy kept from before
    assert https.get("/console/").status_code == 302


def test_logout_needs_the_csrf_token(https, agent):
    login(https)
    assert https.post("/console/logout").status_code == 400
    assert https.get("/console/").status_code == 200


def test_idle_session_expires(https, agent, app, travel):
    login(https)
    travel(minutes=app.config["CONSOLE_IDLE_MINUTES"] - 1)
    assert https.get("/console/").status_code == 200  # a request restarts the idle timeout
    travel(minutes=app.config["CONSOLE_IDLE_MINUTES"] - 1)
    assert https.get("/console/").status_code == 200
    travel(minutes=app.config["CONSOLE_IDLE_MINUTES"] + 1)
    assert https.get("/console/").status_code == 302


def test_a_session_survives_redis_losing_everything(https, agent, app):
    login(https)
    Redis.from_url(app.config["REDIS_URL"]).flushall()  # restarted empty
    assert https.get("/console/").status_code == 200


@pytest.mark.parametrize(
    "target, expected",
    [
        ("//evil.example/phish", "/console/"),
        ("/\t/evil.example", "/console/"),
        ("/\\evil.example", "/console/"),
        ("https://evil.example/", "/console/"),
        ("/\r\n/x", "/console/"),
        ("/console/conversations/7", "/console/conversations/7"),
    ],
)
def test_next_only_goes_inside_the_site(https, agent, target, expected):
    token = csrf(https)
    response = https.post(
        "/console/login",
        data={
            "email": "agent@example.com",
            "password": PASSWORD,
            "csrf_token": token,
            "next": target,
        },
    )
    assert response.status_code == 302 and response.location == expected


def test_an_agent_never_reaches_admin_pages(app, db, agent):
    admin_only = Blueprint("admin_probe", __name__)

    @admin_only.get("/console/admin-probe")
    @login_required(role="admin")
    def probe():
        return "admin"

    app.register_blueprint(admin_only)
    users.create_user(db, "boss@example.com", PASSWORD, "admin")
    db.commit()
    client = https_client(app)
    login(client)
    assert client.get("/console/admin-probe").status_code == 403
    other = https_client(app)
    login(other, email="boss@example.com")
    assert other.get("/console/admin-probe").get_data(as_text=True) == "admin"


@pytest.mark.parametrize("email", ["agent\x00@example.com", "a" * 300 + "@example.com"])
def test_an_odd_e_mail_is_a_failed_sign_in_not_an_error(https, agent, email):
    assert login(https, email=email).status_code == 401
