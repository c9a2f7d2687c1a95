"""The admin console's e-mail versions of templates: edit subject, HTML and text of a key per
locale, with the rendered HTML and the text side by side before publishing."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from bot.db import session as db_session
from bot.templates import admin as template_admin
from bot.templates import email_admin
from bot.web.console.auth import current_user, login_required

bp = Blueprint("email_admin", __name__, url_prefix="/console/admin/templates")


@bp.route("/<key>/email/<locale>", methods=["GET", "POST"])
@login_required(role="admin")
def edit(key, locale):
    s = db_session()
    try:
        spec = template_admin.get_key(s, key)
        locale = template_admin.check_locale(locale)
    except (LookupError, template_admin.TemplateValidationError):
        abort(404)
    current = email_admin.live(s, key, locale)
    if request.method == "POST":
        parts = {name: request.form.get(name, "") for name in email_admin.PARTS}
    elif current is not None:
        parts = {name: getattr(current, name) for name in email_admin.PARTS}
    else:
        parts = {"subject": "", "html": "", "text": ""}
    problems, status = [], 200
    if request.method == "POST" and request.form.get("action") == "save":
        try:
            row = email_admin.save(s, spec, locale, parts, current_user())
        except template_admin.TemplateValidationError as exc:
            problems, status = exc.problems, 422
        else:
            if row is None:
                flash(_("Nothing changed: the e-mail is the same as the live version."), "info")
            else:
                s.commit()
                flash(
                    _(
                        "Published e-mail version %(version)s of %(key)s (%(locale)s).",
                        version=row.version,
                        key=key,
                        locale=locale,
                    ),
                    "info",
                )
            return redirect(url_for("email_admin.edit", key=key, locale=locale)), 303
    elif request.method == "POST" or current is not None:
        problems = email_admin.check(email_admin.normalise(parts), spec, locale)
    preview = None
    if not problems and any(v.strip() for v in parts.values()):
        preview = email_admin.preview(
            s,
            spec,
            locale,
            parts,
            current_app.config.get("CREDITOR_NAME") or "Acme",
            current_app.config["PUBLIC_BASE_URL"],
        )
    page = render_template(
        "console/admin_email_edit.html",
        user=current_user(),
        spec=spec,
        locale=locale,
        current=current,
        parts=parts,
        problems=problems,
        preview=preview,
    )
    return page, status
