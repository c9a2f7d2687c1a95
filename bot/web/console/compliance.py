"""The compliance pages of the admin console: the rules each country's messages follow (the
law's packs with their sources, the creditor's policies), the creditor's holiday calendar, and
the records as CSV downloads (a debtor's contact log, the weekly report, the consent register),
each download audited."""

from datetime import date

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from bot import clock, users
from bot.contact import calendar, records, rules
from bot.contact.packs import DAYS
from bot.db import session as db_session
from bot.models import AuditEvent, HolidayOverride
from bot.web.console.auth import current_user, login_required

bp = Blueprint("compliance", __name__, url_prefix="/console/admin/compliance")


def _render(name, status=200, **context):
    user = current_user()
    return render_template(f"console/compliance_{name}.html", user=user, **context), status


def _hours(rule):
    return (
        ", ".join(f"{DAYS[d]} {o:%H:%M}-{c:%H:%M}" for d, (o, c) in sorted(rule.hours.items()))
        or "never"
    )


@bp.get("/")
@login_required(role="admin")
def index():
    s = db_session()
    table = rules.load_rules(s)
    countries = sorted(set(table.packs) | set(table.policies))
    items = []
    for country in countries:
        pack = table.pack(country)
        rule = table.get(country)
        items.append({"country": country, "pack": pack, "rule": rule, "hours": _hours(rule)})
    overrides = s.query(HolidayOverride).order_by(HolidayOverride.country, HolidayOverride.day)
    return _render(
        "index",
        items=items,
        overrides=overrides.all(),
        retention=records.retention_years(table.packs),
        library=calendar.LIBRARY_VERSION,
        last_week=f"{records.week_start():%G-W%V}",
    )


def _download(chunks, name, what, data):
    """A CSV download, audited (who, what, when) before it starts."""
    s = db_session()
    s.add(
        AuditEvent(
            actor=users.actor(current_user()),
            action="compliance.exported",
            subject_type=what,
            subject_id="*",
            data=data,
        )
    )
    s.commit()
    stamp = clock.utcnow().strftime("%Y%m%d-%H%M%S")
    return Response(
        "".join(chunks),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'},
    )


@bp.get("/contact-log")
@login_required(role="admin")
def contact_log():
    s = db_session()
    who = request.args.get("debtor", "")
    debtor = records.find_debtor(s, who)
    if debtor is None:
        flash("No debtor with that id, phone (E.164) or account reference.", "error")
        return redirect(url_for("compliance.index"))
    chunks = records.to_csv(records.contact_log(s, debtor.id), records.LOG_COLUMNS)
    return _download(chunks, f"contact-log-{debtor.id}", "contact_events", {"debtor_id": debtor.id})


@bp.get("/weekly-report")
@login_required(role="admin")
def weekly_report():
    try:
        monday = records.week_start(request.args.get("week") or None)
    except ValueError as exc:
        flash(str(exc), "error")
        return redirect(url_for("compliance.index"))
    s = db_session()
    chunks = records.to_csv(records.weekly_report(s, monday), records.REPORT_COLUMNS)
    label = f"{monday:%G-W%V}"
    return _download(chunks, f"contacts-{label}", "weekly_report", {"week": label})


@bp.get("/register")
@login_required(role="admin")
def register():
    chunks = records.to_csv(records.register(db_session()), records.REGISTER_COLUMNS)
    return _download(chunks, "consent-register", "consent_records", {})


@bp.post("/holidays")
@login_required(role="admin")
def holiday_add():
    s = db_session()
    form = request.form
    try:
        calendar.set_override(
            s,
            form.get("country", ""),
            form.get("day", ""),
            form.get("action", "add"),
            form.get("reason", ""),
            users.actor(current_user()),
            form.get("subdivision") or None,
        )
    except calendar.CalendarError as exc:
        s.rollback()
        flash(str(exc), "error")
        return redirect(url_for("compliance.index")), 303
    s.commit()
    flash("Calendar updated: the next decision uses it.", "ok")
    return redirect(url_for("compliance.index")), 303


@bp.post("/holidays/<int:override_id>/delete")
@login_required(role="admin")
def holiday_delete(override_id):
    s = db_session()
    if calendar.delete_override(s, override_id, users.actor(current_user())):
        s.commit()
        flash("Calendar entry removed.", "ok")
    return redirect(url_for("compliance.index")), 303


@bp.app_template_filter("iso")
def _iso(value):
    return value.isoformat() if isinstance(value, date) else (value or "")
