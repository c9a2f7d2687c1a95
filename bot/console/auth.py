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
import time

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

from ..db import session as db_session
from ..models import User
from ..queues import redis_conn
from ..services import audit, users

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
        abort(400, description="The form expired or did not come from this console; reload it.")


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
    # Behind a proxy, ProxyFix (configured by the deployment) puts the client in remote_addr.
    return request.remote_addr or "unknown"


def _failure_keys(email):
    email_hash = hashlib.sha256(users.normalise_email(email).encode()).hexdigest()[:32]
    return (
        (f"console:login-fail:email:{email_hash}", FAILURES_PER_EMAIL),
        (f"console:login-fail:addr:{_client_address()}", FAILURES_PER_ADDRESS),
    )


def _blocked_for(email):
    """Seconds until sign-in may be tried again for this e-mail or address; 0 if allowed."""
    redis = redis_conn()
    wait = 0
    for key, limit in _failure_keys(email):
        count = int(redis.get(key) or 0)
        if count >= limit:
            wait = max(wait, redis.ttl(key))
    return max(wait, 0)


def _count_failure(email):
    pipe = redis_conn().pipeline()
    for key, _limit in _failure_keys(email):
        pipe.incr(key)
        pipe.expire(key, FAILURE_WINDOW, nx=True)
    pipe.execute()


def _safe_next(target):
    # Only paths inside this site: never an absolute URL that would bounce the agent elsewhere.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("agent.queue")


def start_session(user):
    """A new session id for a signed-in user (a session fixed before sign-in is dropped)."""
    session.clear()
    sid = secrets.token_urlsafe(32)
    payload = {"user_id": user.id, "since": int(time.time())}
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
            return redirect(_safe_next(request.args.get("next")))
        return render_template("console/login.html", next=request.args.get("next", ""))
    check_csrf()
    email = request.form.get("email", "")
    wait = _blocked_for(email)
    if wait:
        minutes = max(1, round(wait / 60))
        flash(f"Too many failed sign-ins. Try again in {minutes} minute(s).", "error")
        return render_template("console/login.html", next=request.form.get("next", "")), 429
    s = db_session()
    user = users.authenticate(s, email, request.form.get("password", ""))
    if user is None:
        _count_failure(email)
        flash("E-mail or password is not right.", "error")
        return render_template("console/login.html", next=request.form.get("next", "")), 401
    redis_conn().delete(_failure_keys(email)[0][0])
    audit.record(s, users.actor(user), "user.signed_in", user, {})
    s.commit()
    start_session(user)
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout():
    check_csrf()
    user = current_user()
    if user is not None:
        s = db_session()
        audit.record(s, users.actor(user), "user.signed_out", user, {})
        s.commit()
    end_session()
    flash("You are signed out.", "info")
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
