"""The results dashboard (admins): funnel, recovery, cures and rolls, promises, self-service,
opt-outs per template, agents' workload, cost per unit recovered and the champion/challenger
comparisons, over a period and filters; each section as a chart, a table and a CSV file."""

import csv
import io
from datetime import date

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from bot import audit, clock, outbox, users
from bot.analytics import compare, prices, query, report, rollup
from bot.db import session as db_session
from bot.models import Experiment, RollupRun, Segment, TemplateKey, User
from bot.web.console import labels
from bot.web.console.auth import current_user, login_required, safe_next

bp = Blueprint("results", __name__, url_prefix="/console/admin/results")
SECTIONS = ("series", "funnel", "templates", "recovery", "rolls", "outcomes", "agents",
            "escalations", "cost")  # fmt: skip


def _filters():
    try:
        return query.Filters.parse(request.args, rollup.today())
    except query.FilterError as exc:
        abort(400, description=str(exc))


def _agent_names(s):
    return dict(s.execute(select(User.id, User.email)).all())


def _build(s, filters, fetch):
    sections, headline, currency = report.build(s, filters, _agent_names(s), fetch)
    experiments = [
        (experiment, compare.compare(s, experiment, filters))
        for experiment in compare.experiments_for(s, filters)
    ]
    return sections, headline, currency, experiments


@bp.get("/")
@login_required(role="admin")
def dashboard():
    s = db_session()
    filters = _filters()
    fetch = report.fetcher(s, filters)
    sections, headline, currency, experiments = _build(s, filters, fetch)
    last_run = s.execute(select(RollupRun).order_by(RollupRun.computed_at.desc()).limit(1))
    return render_template(
        "console/results.html",
        user=current_user(),
        filters=filters,
        sections=[sections[k] for k in SECTIONS],
        charts={k: labels.chart(sections[k]) for k in SECTIONS if sections[k].chart},
        headline=headline,
        currency=currency,
        experiments=experiments,
        choices=_choices(s, filters, fetch),
        last_run=last_run.scalar(),
        L=labels,
    )


def _choices(s, filters, fetch):
    """The filter menus: what the period on screen has (from the sums the page read), the
    segments and reminder texts that exist, and whatever is selected now."""
    found = {
        name: sorted(fetch.values(name))
        for name in ("portfolio", "country", "channel", "currency", "template_key")
    }
    found["segment"] = sorted(s.execute(select(Segment.name)).scalars())
    found["template_key"] = sorted(
        set(found["template_key"])
        | {
            key
            for key in s.execute(select(TemplateKey.key)).scalars()
            if key.startswith("reminder.") and "~" not in key and ".offer." not in key
        }
    )
    found["channel"] = sorted(set(found["channel"]) | {"whatsapp", "sms"})
    for name, value in filters.dims.items():
        if name != "variant_id" and value not in found[name]:
            found[name] = sorted([*found[name], value])
    variants = []
    for experiment in s.execute(select(Experiment).order_by(Experiment.id.desc())).scalars():
        variants += [(v.id, f"{experiment.name} · {v.name}") for v in experiment.variants]
    found["variant_id"] = variants
    return found


def _cell(value):
    """A cell as the CSV writes it: exact decimals, fractions for rates, ISO dates."""
    if value is None:
        return ""
    if isinstance(value, report.Money):
        return str(value.decimal())
    if isinstance(value, report.Exact):
        return str(value.value) if value.value is not None else ""
    if isinstance(value, report.Pct):
        return "" if value.value is None else f"{value.value:.6f}"
    if isinstance(value, report.Seconds):
        return "" if value.value is None else str(value.value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _csv(columns, rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


@bp.get("/export/<name>.csv")
@login_required(role="admin")
def export(name):
    s = db_session()
    filters = _filters()
    if name == "variants":
        columns = ["experiment", "variant", "control", "rate", "successes", "trials", "value",
                   "ci_low", "ci_high", "ratio", "ratio_low", "ratio_high", "p_value",
                   "significant"]  # fmt: skip
        rows = []
        for experiment in compare.experiments_for(s, filters):
            for result in compare.compare(s, experiment, filters):
                for rate_name, r in result.rates.items():
                    rows.append(
                        [experiment.name, result.variant.name, result.variant.is_control,
                         rate_name, r.successes, r.trials, report.Pct(r.value),
                         report.Pct(r.low), report.Pct(r.high), r.ratio, r.ratio_low,
                         r.ratio_high, r.p_value, r.significant]
                    )  # fmt: skip
        text = _csv(columns, rows)
    elif name in SECTIONS:
        sections, _headline, _currency = report.build(s, filters, _agent_names(s))
        section = sections[name]
        text = _csv(section.columns, section.rows)
    else:
        abort(404)
    user = current_user()
    audit.record(
        s, users.actor(user), "results.exported", user, {"section": name, **filters.args()}
    )
    s.commit()
    stamp = clock.utcnow().strftime("%Y%m%d-%H%M%S")
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="results-{name}-{stamp}.csv"'},
    )


@bp.post("/recompute")
@login_required(role="admin")
def recompute():
    """Ask the workers to recompute the recent days now (the job also runs every hour)."""
    s = db_session()
    outbox.later(s, "analytics_rollup")
    s.commit()
    flash(_("The results are being recomputed; reload in a minute."), "info")
    return redirect(safe_next(request.form.get("next")))


@bp.route("/prices", methods=["GET", "POST"])
@login_required(role="admin")
def price_list():
    s = db_session()
    problems = []
    if request.method == "POST":
        try:
            prices.save(
                s,
                request.form.get("channel", ""),
                request.form.get("currency", ""),
                request.form.get("price", ""),
                current_user(),
            )
        except prices.PriceError as exc:
            s.rollback()
            problems.append(str(exc))
        else:
            s.commit()
            flash(_("Price saved."), "info")
            return redirect(url_for("results.price_list"))
    return render_template(
        "console/results_prices.html",
        user=current_user(),
        items=sorted(prices.all_prices(s).items()),
        channels=prices.CHANNELS,
        problems=problems,
    ), (422 if problems else 200)
