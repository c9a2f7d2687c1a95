"""Champion/challenger experiments in the admin console: start one (a challenger text, tone,
send hour or offer for a reminder's template key, or another cadence for a segment), stop it,
promote the winner. Every change is audited (bot.experiments.variants)."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from bot.analytics import compare, query, rollup
from bot.db import session as db_session
from bot.experiments import variants
from bot.models import Experiment, Segment, TemplateKey
from bot.web.console.auth import current_user, login_required

bp = Blueprint("experiments", __name__, url_prefix="/console/admin/experiments")


def _reminder_keys(s):
    return [
        key
        for key in s.execute(select(TemplateKey.key).order_by(TemplateKey.key)).scalars()
        if key.startswith("reminder.") and not key.startswith("reminder.offer.")
    ]


def _int(name, low, high, required=False):
    raw = (request.form.get(name) or "").strip()
    if not raw:
        if required:
            raise variants.ExperimentError(_("%(field)s is required", field=name))
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise variants.ExperimentError(
            _(
                "%(field)s is a whole number from %(low)d to %(high)d",
                field=name,
                low=low,
                high=high,
            )
        )
    return int(raw)


def _cadence(text):
    """ "due:-3, due:0, promise:1" -> [{"kind": "due", "offset": -3}, ...]"""
    steps = []
    for part in (text or "").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        kind, _sep, offset = part.partition(":")
        try:
            steps.append({"kind": kind.strip(), "offset": int(offset)})
        except ValueError:
            raise variants.ExperimentError(
                _("cadence steps look like due:-3, due:0, promise:1 (%(step)s is not)", step=part)
            ) from None
    return steps


def _create(s, form):
    kind = form.get("kind", "template")
    challenger_share = _int("challenger_share", 0, 100, required=True)
    challenger = {
        "name": (form.get("challenger_name") or "challenger").strip(),
        "share": challenger_share,
    }
    key = form.get("template_key") or None
    if kind == "template":
        text_es, text_en = form.get("text_es", "").strip(), form.get("text_en", "").strip()
        if text_es or text_en:
            bodies = {tag: text for tag, text in (("es", text_es), ("en", text_en)) if text}
            suffix = "".join(c for c in challenger["name"].lower() if c.isalnum())[:24] or "b"
            challenger["template_key"] = variants.add_text_variant(
                s, key, suffix, bodies, current_user()
            )
        elif form.get("tone_key"):
            challenger["template_key"] = form.get("tone_key")
        challenger["send_hour"] = _int("send_hour", 0, 23)
        if form.get("offer"):
            challenger["offer"] = form.get("offer")
    else:
        challenger["cadence"] = _cadence(form.get("cadence"))
    arms = [{"name": "champion", "share": 100 - challenger_share, "is_control": True}, challenger]
    return variants.create(
        s,
        form.get("name", ""),
        kind,
        arms,
        current_user(),
        template_key=key if kind == "template" else None,
        segment=form.get("segment") or None,
        description=form.get("description", ""),
    )


@bp.route("/", methods=["GET", "POST"])
@login_required(role="admin")
def index():
    s = db_session()
    problems = []
    if request.method == "POST":
        try:
            experiment = _create(s, request.form)
        except variants.ExperimentError as exc:
            s.rollback()
            problems = exc.problems
        else:
            s.commit()
            flash(_("Experiment %(name)s started.", name=experiment.name), "info")
            return redirect(url_for("experiments.index"))
    return render_template(
        "console/experiments.html",
        user=current_user(),
        items=variants.all_experiments(s),
        keys=_reminder_keys(s),
        segments=list(s.execute(select(Segment.name).order_by(Segment.name)).scalars()),
        problems=problems,
        form=request.form,
    ), (422 if problems else 200)


def _experiment(s, experiment_id):
    experiment = s.get(Experiment, experiment_id)
    if experiment is None:
        abort(404)
    return experiment


@bp.post("/<int:experiment_id>/promote")
@login_required(role="admin")
def promote(experiment_id):
    s = db_session()
    experiment = _experiment(s, experiment_id)
    variant_id = request.form.get("variant_id", "")
    if not variant_id.isdigit():
        abort(400, description="variant_id is a number")
    try:
        filters = query.Filters.parse(request.form, rollup.today())
    except query.FilterError as exc:
        abort(400, description=str(exc))
    evidence = compare.evidence(compare.compare(s, experiment, filters))
    evidence["period"] = [filters.start.isoformat(), filters.end.isoformat()]
    try:
        winner = variants.promote(s, experiment, int(variant_id), current_user(), evidence)
    except variants.ExperimentError as exc:
        s.rollback()
        flash(str(exc), "error")
    else:
        s.commit()
        flash(
            _("%(variant)s now goes to every debtor of %(name)s.", variant=winner.name,
              name=experiment.name),
            "info",
        )  # fmt: skip
    return redirect(url_for("results.dashboard", template_key=experiment.template_key or None))


@bp.post("/<int:experiment_id>/stop")
@login_required(role="admin")
def stop(experiment_id):
    s = db_session()
    experiment = _experiment(s, experiment_id)
    try:
        variants.stop(s, experiment, current_user())
    except variants.ExperimentError as exc:
        s.rollback()
        flash(str(exc), "error")
    else:
        s.commit()
        flash(
            _("Experiment %(name)s stopped: everybody gets the control.", name=experiment.name),
            "info",
        )
    return redirect(url_for("experiments.index"))
