"""Admin console: the ways to pay by reference per country (the creditor's bank accounts,
wallets and cash networks), edited field by field, validated and audited."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from bot.db import session as db_session
from bot.debts.resolutions import MAX_ID
from bot.models import RailMethod
from bot.payments import rails
from bot.users import actor
from bot.web.console.auth import current_user, login_required

bp = Blueprint("rails_admin", __name__, url_prefix="/console/admin/payment-methods")


def _method(method_id):
    if method_id > MAX_ID:
        abort(404)
    method = db_session().get(RailMethod, method_id)
    if method is None:
        abort(404)
    return method


@bp.get("/")
@login_required(role="admin")
def index():
    s = db_session()
    return render_template(
        "console/admin_rails.html",
        user=current_user(),
        countries=rails.catalogue(s),
        complete=rails.is_complete,
    )


def _fields(method):
    return [
        {
            "name": name,
            "label": rails.field_label(spec, name),
            "required": bool(spec.get("required")),
            "choices": spec.get("choices"),
            "multiline": bool(spec.get("multiline")),
            "check": spec.get("check"),
        }
        for name, spec in method.fields.items()
    ]


@bp.route("/<int:method_id>", methods=["GET", "POST"])
@login_required(role="admin")
def edit(method_id):
    s = db_session()
    method = _method(method_id)
    values, problems, status = dict(method.values or {}), {}, 200
    enabled = method.enabled
    if request.method == "POST":
        enabled = request.form.get("enabled") == "on"
        try:
            changes = rails.update(s, method, request.form, enabled, actor(current_user()))
        except rails.RailError as exc:
            s.rollback()
            method = _method(method_id)
            problems, status = exc.problems, 422
            values = {name: request.form.get(name, "") for name in method.fields}
        else:
            s.commit()
            flash("Saved." if changes else "Nothing changed.", "info")
            return redirect(url_for("rails_admin.edit", method_id=method.id)), 303
    return render_template(
        "console/admin_rail_edit.html",
        user=current_user(),
        method=method,
        fields=_fields(method),
        values=values,
        enabled=enabled,
        problems=problems,
        history=rails.history(s, method),
    ), status


@bp.post("/new")
@login_required(role="admin")
def add():
    s = db_session()
    try:
        method = rails.add_custom(
            s, request.form.get("country"), request.form.get("name"), actor(current_user())
        )
    except rails.RailError as exc:
        s.rollback()
        for problem in exc.problems.values():
            flash(problem, "error")
        return redirect(url_for("rails_admin.index")), 303
    s.commit()
    return redirect(url_for("rails_admin.edit", method_id=method.id)), 303
