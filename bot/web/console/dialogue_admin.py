"""Admin pages for the conversation: each portfolio's voice (the register it addresses debtors
in, the creditor it names) and the learning loop (messages the bot was unsure of, labelled and
exported as Rasa NLU training data)."""

from pathlib import Path

import yaml
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from bot import audit, users
from bot.conversations import learning
from bot.db import session as db_session
from bot.models import Portfolio
from bot.templates import voice
from bot.templates.store import REGISTERS
from bot.web.console.auth import current_user, login_required

bp = Blueprint("dialogue_admin", __name__, url_prefix="/console/admin")
DOMAIN = Path(__file__).resolve().parents[3] / "dialogue" / "domain.yml"
REGISTER_LABELS = {"tu": "tú", "usted": "usted", "vos": "vos"}
STATUSES = ("open", "labelled", "all")
_intents = None


def intents():
    """The bot's intents, read once from its domain."""
    global _intents
    if _intents is None:
        data = yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))
        _intents = sorted(i if isinstance(i, str) else next(iter(i)) for i in data["intents"])
    return _intents


def _render(name, status=200, **context):
    return render_template(f"console/admin_{name}.html", user=current_user(), **context), status


@bp.route("/portfolios", methods=["GET", "POST"])
@login_required(role="admin")
def portfolios():
    s = db_session()
    if request.method == "POST":
        name = (request.form.get("name") or "").strip()
        try:
            row, changes = voice.save(
                s, name, request.form.get("register") or None, request.form.get("creditor_name")
            )
        except ValueError as exc:
            flash(str(exc), "error")
            return redirect(url_for("dialogue_admin.portfolios")), 303
        if changes:
            audit.record(
                s,
                users.actor(current_user()),
                "portfolio.voice_changed",
                row,
                {k: {"before": b, "after": a} for k, (b, a) in changes.items()},
            )
            s.commit()
            flash(f"Saved the voice of {name}.", "info")
        else:
            flash("Nothing changed.", "info")
        return redirect(url_for("dialogue_admin.portfolios")), 303
    rows = s.query(Portfolio).order_by(Portfolio.name).all()
    return _render(
        "portfolios",
        rows=rows,
        registers=REGISTERS,
        labels=REGISTER_LABELS,
        default_creditor=_creditor_default(),
    )


def _creditor_default():
    return current_app.config.get("CREDITOR_NAME") or ""


@bp.get("/learning")
@login_required(role="admin")
def learning_list():
    status = request.args.get("status", "open")
    if status not in STATUSES:
        abort(404)
    rows = learning.reviews(db_session(), status)
    return _render(
        "learning",
        rows=rows,
        status=status,
        statuses=STATUSES,
        intents=intents(),
        ignore=learning.IGNORE,
    )


@bp.post("/learning/<int:review_id>")
@login_required(role="admin")
def learning_label(review_id):
    s = db_session()
    try:
        learning.label(
            s, review_id, request.form.get("intent", ""), users.actor(current_user()), intents()
        )
    except LookupError:
        abort(404)
    except ValueError as exc:
        flash(str(exc), "error")
        return redirect(url_for("dialogue_admin.learning_list")), 303
    s.commit()
    return redirect(
        url_for("dialogue_admin.learning_list", status=request.args.get("status", "open"))
    ), 303


@bp.get("/learning/export.yml")
@login_required(role="admin")
def learning_export():
    language = request.args.get("language") or None
    if language not in (None, "es", "en"):
        abort(404)
    name = f"labelled_{language or 'all'}.yml"
    return Response(
        learning.export_yaml(db_session(), language),
        mimetype="application/x-yaml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
