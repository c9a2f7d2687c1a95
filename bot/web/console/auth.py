"""Console sign-in: server-side sessions in Redis, CSRF on every form, login rate limit.

The signed Flask cookie carries only a random session id and the CSRF token; who is signed in
lives in Redis under that id with an idle timeout, so logging out (or the timeout) really ends
the session even if someone kept a copy of the cookie.
"""

import functools
import hashlib
import hmac
import json
import secrets
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from bot import audit, clock, users
from bot.db import session as db_session
from bot.models import User
from bot.redis import redis_conn

bp = Blueprint("auth", __name__, url_prefix="/console")

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Failed sign-ins allowed per e-mail and per client address within the window.
FAILURES_PER_EMAIL = 5
FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW = 15 * 60


def init_app(app):
    production = app.config["APP_ENV"] == "production"
    app.config.update(
        SESSION_COOKIE_NAME="console_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production or app.config["PUBLIC_BASE_URL"].startswith("https:"),
    )
    app.jinja_env.globals["csrf_token"] = csrf_token
    if app.config["PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.register_blueprint(bp)


def _key(sid):
    return "console:session:" + hashlib.sha256(sid.encode()).hexdigest()


def _idle_seconds():
    return current_app.config["CONSOLE_IDLE_MINUTES"] * 60


def csrf_token():
    """The CSRF token of this browser session, created on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf():
    """Refuse a state-changing request without this session's CSRF token (400)."""
    if request.method in SAFE_METHODS:
        return
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(sent, expected):
        abort(400, description=_("The form expired or did not come from this console; reload it."))


def current_user():
    """The signed-in user of this request, or None (idle sessions end here)."""
    if "user" in g:
        return g.user
    g.user = None
    sid = session.get("sid")
    if sid:
        key = _key(sid)
        raw = redis_conn().get(key)
        if raw is not None:
            data = json.loads(raw)
            user = db_session().get(User, data["user_id"])
            if user is not None and user.active:
                redis_conn().expire(key, _idle_seconds())  # idle timeout restarts
                g.user = user
    return g.user


def login_required(role=None):
    """Views for signed-in users; role="admin" keeps agents out (403)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is None:
                if request.accept_mimetypes.best == "application/json" or request.is_json:
                    abort(401)
                return redirect(url_for("auth.login", next=request.full_path))
            if role == "admin" and user.role != "admin":
                abort(403)
            check_csrf()
            return view(*args, **kwargs)

        return wrapped

    return decorate


def _client_address():
    # Behind a proxy, ProxyFix (PROXY_HOPS) puts the client's address in remote_addr.
    return request.remote_addr or "unknown"


def _failure_keys(email):
    email_hash = hashlib.sha256(users.normalise_email(email).encode()).hexdigest()[:32]
    return (
        (f"console:login-fail:email:{email_hash}", FAILURES_PER_EMAIL),
        (f"console:login-fail:addr:{_client_address()}", FAILURES_PER_ADDRESS),
    )


def _count_attempt(email):
    """Count this attempt before the password is checked (so parallel guesses are counted
    too); return the seconds to wait when a limit is exceeded, else 0."""
    keys = _failure_keys(email)
    pipe = redis_conn().pipeline()
    for key, _limit in keys:
        pipe.incr(key)
        pipe.expire(key, FAILURE_WINDOW, nx=True)
        pipe.ttl(key)
    results = pipe.execute()
    wait = 0
    for i, (_key, limit) in enumerate(keys):
        count, ttl = results[3 * i], results[3 * i + 2]
        if count > limit:
            wait = max(wait, ttl)
    return max(wait, 0)


def _forget_attempt(email):
    """A successful sign-in: the e-mail's count restarts and the address gets its try back."""
    (email_key, _), (address_key, _) = _failure_keys(email)
    pipe = redis_conn().pipeline()
    pipe.delete(email_key)
    pipe.decr(address_key)
    pipe.execute()


def safe_next(target):
    """Only a path inside this site: never a URL that would bounce the agent elsewhere."""
    target = target or ""
    # Browsers drop tabs and newlines and read "\\" as "/": "/\t/evil" would become "//evil".
    if any(ord(c) < 33 or c == "\\" for c in target):
        return url_for("agent.queue")
    parts = urlsplit(target)
    if (
        target.startswith("/")
        and not target.startswith("//")
        and not (parts.scheme or parts.netloc)
    ):
        return target
    return url_for("agent.queue")


def start_session(user):
    """A new session id for a signed-in user (a session fixed before sign-in is dropped)."""
    session.clear()
    sid = secrets.token_urlsafe(32)
    payload = {"user_id": user.id, "since": int(clock.epoch())}
    redis_conn().set(_key(sid), json.dumps(payload), ex=_idle_seconds())
    session["sid"] = sid
    session["csrf"] = secrets.token_urlsafe(32)
    g.user = user


def end_session():
    sid = session.get("sid")
    if sid:
        redis_conn().delete(_key(sid))
    session.clear()
    g.user = None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if current_user() is not None:
            return redirect(safe_next(request.args.get("next")))
        return render_template("console/login.html", next=request.args.get("next", ""))
    check_csrf()
    email = request.form.get("email", "")
    wait = _count_attempt(email)
    if wait:
        minutes = max(1, round(wait / 60))
        flash(
            _("Too many failed sign-ins. Try again in %(minutes)s minute(s).", minutes=minutes),
            "error",
        )
        return render_template("console/login.html", next=request.form.get("next", "")), 429
    s = db_session()
    user = users.authenticate(s, email, request.form.get("password", ""))
    if user is None:
        flash(_("E-mail or password is not right."), "error")
        return render_template("console/login.html", next=request.form.get("next", "")), 401
    _forget_attempt(email)
    audit.record(s, users.actor(user), "user.signed_in", user, {})
    s.commit()
    start_session(user)
    return redirect(safe_next(request.form.get("next")))


@bp.post("/logout")
def logout():
    check_csrf()
    user = current_user()
    if user is not None:
        s = db_session()
        audit.record(s, users.actor(user), "user.signed_out", user, {})
        s.commit()
    end_session()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.before_app_request
def _forget_user():
    # g lives as long as the app context, which may span several requests (tests, CLI).
    g.pop("user", None)


@bp.after_app_request
def _console_headers(response):
    if request.path.startswith("/console"):
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        )
    return response
