"""Console sign-in: server-side sessions in the database, CSRF on every form, sign-in
throttling that slows a guesser down without locking the real agent out.

The signed Flask cookie carries only a random session id and the CSRF token; who is signed in
lives in the database under the id's hash with an idle timeout, so logging out (or the timeout)
really ends the session even if someone kept a copy of the cookie, and a Redis restart signs
nobody out.

Failed sign-ins are counted per e-mail and client address together, and per client address
alone. Past the limit each further try waits a growing delay (2, 4, 8 ... at most 60 seconds,
one try per delay however many are sent in parallel): a stranger guessing an agent's password
from elsewhere slows down only their own tries, and the agent's right password still works.
"""

import functools
import hashlib
import hmac
import secrets
from datetime import timedelta
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
from sqlalchemy import delete

from bot import audit, users
from bot.clock import utcnow
from bot.db import session as db_session
from bot.models import ConsoleSession, User
from bot.redis import redis_conn

bp = Blueprint("auth", __name__, url_prefix="/console")

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Failed sign-ins allowed without delay within the window: per e-mail from one client address,
# and per client address whatever the e-mail.
FAILURES_PER_EMAIL = 5
FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW = 15 * 60
MAX_DELAY = 60
# A session's last request is written at most this often (the idle timeout's precision).
TOUCH_EVERY = timedelta(seconds=60)


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
    return hashlib.sha256(sid.encode()).hexdigest()


def _idle():
    return timedelta(minutes=current_app.config["CONSOLE_IDLE_MINUTES"])


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
    if not sid or not isinstance(sid, str):
        return None
    s = db_session()
    row = s.get(ConsoleSession, _key(sid))
    if row is None:
        return None
    now = utcnow()
    if now - row.last_seen_at > _idle():
        s.delete(row)
        s.commit()
        return None
    user = s.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if now - row.last_seen_at > TOUCH_EVERY:  # the idle timeout restarts
        row.last_seen_at = now
        s.commit()
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
    address = _client_address()
    pair = hashlib.sha256(f"{users.normalise_email(email)}|{address}".encode()).hexdigest()[:32]
    address_hash = hashlib.sha256(address.encode()).hexdigest()[:32]
    return (
        (f"console:login-fail:pair:{pair}", FAILURES_PER_EMAIL),
        (f"console:login-fail:addr:{address_hash}", FAILURES_PER_ADDRESS),
    )


def _count_attempt(email):
    """Count this attempt before the password is checked (so parallel guesses are counted
    too); return the seconds to wait when this try must wait, else 0.

    Past a limit, a try goes ahead only when it takes the key's delay slot (SET NX with the
    delay as expiry): one try per delay, however many arrive at once."""
    keys = _failure_keys(email)
    redis = redis_conn()
    pipe = redis.pipeline()
    for key, _limit in keys:
        pipe.incr(key)
        pipe.expire(key, FAILURE_WINDOW, nx=True)
    results = pipe.execute()
    for i, (key, limit) in enumerate(keys):
        over = results[2 * i] - limit
        if over <= 0:
            continue
        delay = min(2**over, MAX_DELAY)
        if not redis.set(key + ":slot", 1, ex=delay, nx=True):
            redis.decr(key)  # a refused try is not a failed password
            return max(redis.ttl(key + ":slot"), 1)
    return 0


def _forget_attempt(email):
    """A successful sign-in: the pair's count restarts and the address gets its try back."""
    (pair_key, _), (address_key, _) = _failure_keys(email)
    pipe = redis_conn().pipeline()
    pipe.delete(pair_key, pair_key + ":slot")
    pipe.decr(address_key)
    pipe.execute()


def _safe_next(target):
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
    now = utcnow()
    s = db_session()
    s.add(ConsoleSession(id=_key(sid), user_id=user.id, created_at=now, last_seen_at=now))
    # Sessions idle past the timeout are removed as new ones start (no job needed).
    s.execute(delete(ConsoleSession).where(ConsoleSession.last_seen_at < now - _idle()))
    s.commit()
    session["sid"] = sid
    session["csrf"] = secrets.token_urlsafe(32)
    g.user = user


def end_session():
    sid = session.get("sid")
    if sid and isinstance(sid, str):
        s = db_session()
        s.execute(delete(ConsoleSession).where(ConsoleSession.id == _key(sid)))
        s.commit()
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
    wait = _count_attempt(email)
    if wait:
        flash(f"Too many failed sign-ins. Try again in {wait} second(s).", "error")
        page = render_template("console/login.html", next=request.form.get("next", ""))
        return page, 429, {"Retry-After": str(wait)}
    s = db_session()
    user = users.authenticate(s, email, request.form.get("password", ""))
    if user is None:
        flash("E-mail or password is not right.", "error")
        return render_template("console/login.html", next=request.form.get("next", "")), 401
    _forget_attempt(email)
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
