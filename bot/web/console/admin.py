"""The admin console: message templates, payment policies, debt import and account export."""

import json

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
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from bot import audit, clock, inputs, users
from bot.db import session as db_session
from bot.debts import exports, imports, policies
from bot.templates import admin as template_admin
from bot.templates import approved, exchange
from bot.web.console.auth import current_user, login_required

# cli_group=None: its commands are top-level (`flask --app bot export-templates`).
bp = Blueprint("admin", __name__, url_prefix="/console/admin", cli_group=None)

# Below the app's request limit (MAX_CONTENT_LENGTH), so the page can explain. About 2,500 debt
# rows, imported in ~5 s inside the request; bigger files go through `flask import-debts`.
MAX_IMPORT_BYTES = 200 * 1024


def _render(name, status=200, **context):
    return render_template(f"console/admin_{name}.html", user=current_user(), **context), status


def _too_large_text():
    return _(
        "The file is larger than %(kb)s KB. Split it, or load it with "
        "`flask --app bot import-debts FILE`.",
        kb=MAX_IMPORT_BYTES // 1024,
    )


def _spec(key):
    try:
        return template_admin.get_key(db_session(), key)
    except LookupError:
        abort(404)


def _locale(tag):
    try:
        return template_admin.check_locale(tag)
    except template_admin.TemplateValidationError:
        abort(404)


@bp.errorhandler(IntegrityError)
def _conflict(_error):
    # Two admins wrote the same row (version number, portfolio) at the same instant.
    db_session().rollback()
    flash(_("Someone else saved the same thing at the same moment; reload and try again."), "error")
    return _render("index", status=409)


@bp.errorhandler(413)
def _too_large(_error):
    flash(_too_large_text(), "error")
    if request.endpoint == "admin.template_import":
        return _render("template_import", status=413, result=None, problems=[])
    return _render("import", status=413, report=None)


@bp.get("/")
@login_required(role="admin")
def index():
    return _render("index")


@bp.get("/templates")
@login_required(role="admin")
def template_list():
    s = db_session()
    query = request.args.get("q", "")
    return _render(
        "templates",
        items=template_admin.catalogue(s, query),
        locales=template_admin.locales(s),
        query=query,
        lacking=approved.lacking_approved_template(s),
        needs_approved=approved.needs_approved_template,
    )


@bp.get("/templates/<key>")
@login_required(role="admin")
def template_key(key):
    s = db_session()
    spec = _spec(key)
    live = {tag: template_admin.live(s, key, tag) for tag in template_admin.locales(s)}
    missing = [tag for tag, row in live.items() if row is None]
    fallback = {tag: template_admin.fallback_for(s, key, tag) for tag in missing}
    return _render(
        "template_key",
        spec=spec,
        live=live,
        fallback=fallback,
        needs_approved=approved.needs_approved_template(key),
        mapping=json.dumps(spec.content_variables) if spec.content_variables else "",
    )


@bp.post("/templates/<key>/content-sid")
@login_required(role="admin")
def template_content_sid(key):
    s = db_session()
    _spec(key)
    try:
        approved.link_content_sid(
            s, key, request.form.get("content_sid"), request.form.get("variables"), current_user()
        )
    except template_admin.TemplateValidationError as exc:
        s.rollback()
        for problem in exc.problems:
            flash(problem, "error")
        return redirect(url_for("admin.template_key", key=key)), 303
    s.commit()
    flash(_("Approved WhatsApp template saved."), "info")
    return redirect(url_for("admin.template_key", key=key)), 303


@bp.route("/templates/<key>/<locale>/edit", methods=["GET", "POST"])
@login_required(role="admin")
def template_edit(key, locale):
    s = db_session()
    spec = _spec(key)
    locale = _locale(locale)
    current = template_admin.live(s, key, locale)
    body = request.form.get("body") if request.method == "POST" else None
    if body is None:
        body = current.body if current is not None else ""
    problems = []
    status = 200
    base = request.form.get("base_version", "")
    base_version = int(base) if base.isascii() and base.isdigit() and len(base) < 10 else None
    if request.method == "POST" and request.form.get("action") == "save":
        try:
            row = template_admin.save(s, key, locale, body, current_user(), base_version)
            s.flush()
        except template_admin.TemplateValidationError as exc:
            problems, status = exc.problems, 422
        except template_admin.TemplateConflict as exc:
            problems, status = [str(exc)], 409
        except IntegrityError:
            # Another admin published the same version number at the same instant.
            s.rollback()
            problems, status = ["another version was published at the same time; save again"], 409
        else:
            if row is None:
                flash(_("Nothing changed: the text is the same as the live version."), "info")
            else:
                s.commit()
                flash(
                    _(
                        "Published version %(version)s of %(key)s (%(locale)s).",
                        version=row.version,
                        key=key,
                        locale=locale,
                    ),
                    "info",
                )
            return redirect(url_for("admin.template_key", key=key))
    elif request.method == "POST":
        problems = template_admin.check_body(
            template_admin.normalise_body(body),
            spec.variables or {},
            spec.optional or [],
            key,
            locale,
        )
    if status == 409:
        current = template_admin.live(s, key, locale)
    return _render(
        "template_edit",
        status=status,
        spec=spec,
        locale=locale,
        current=current,
        conflict=status == 409,
        base_version=(
            base_version
            if request.method == "POST" and base_version is not None and status != 409
            else (current.version if current else 0)
        ),
        body=body,
        problems=problems,
        # A body with problems has no meaningful preview: the problems say why.
        previews=template_admin.preview(s, key, locale, body)
        if body.strip() and not problems
        else [],
    )


@bp.get("/templates/<key>/<locale>/history")
@login_required(role="admin")
def template_history(key, locale):
    s = db_session()
    spec = _spec(key)
    locale = _locale(locale)
    items = template_admin.history(s, key, locale)
    return _render("template_history", spec=spec, locale=locale, items=items)


@bp.post("/templates/<key>/<locale>/restore/<int:version>")
@login_required(role="admin")
def template_restore(key, locale, version):
    s = db_session()
    _spec(key)
    if version > 2**31 - 1:
        abort(404)
    locale = _locale(locale)
    try:
        row = template_admin.restore(s, key, locale, version, current_user())
    except LookupError:
        abort(404)
    except template_admin.TemplateValidationError as exc:
        flash(
            _("Version %(version)s cannot be restored: %(why)s", version=version, why=exc), "error"
        )
        return redirect(url_for("admin.template_history", key=key, locale=locale))
    if row is None:
        flash(_("Version %(version)s is already the live text.", version=version), "info")
    else:
        s.commit()
        flash(
            _("Restored version %(old)s as version %(new)s.", old=version, new=row.version), "info"
        )
    return redirect(url_for("admin.template_history", key=key, locale=locale))


@bp.get("/templates/export")
@login_required(role="admin")
def template_export():
    s = db_session()
    text = exchange.export_yaml(s)
    user = current_user()
    audit.record(s, users.actor(user), "templates.exported", user, {})
    s.commit()
    stamp = clock.utcnow().strftime("%Y%m%d-%H%M%S")
    return Response(
        text,
        mimetype="application/x-yaml",
        headers={"Content-Disposition": f'attachment; filename="templates-{stamp}.yml"'},
    )


def _upload_text(field_name):
    """The uploaded file's bytes, or None with a flash message saying why not."""
    upload = request.files.get(field_name)
    if upload is None or not upload.filename:
        flash(_("Choose a file to upload."), "error")
        return None
    data = upload.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        flash(_too_large_text(), "error")
        return None
    return data


@bp.post("/templates/import")
@login_required(role="admin")
def template_import():
    s = db_session()
    data = _upload_text("file")
    if data is None:
        return _render("template_import", status=400, result=None, problems=[])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _render(
            "template_import", status=422, result=None, problems=["The file is not UTF-8 text."]
        )
    try:
        dry_run = request.form.get("action") == "check"
        result = exchange.import_yaml(s, text, current_user(), dry_run=dry_run)
    except template_admin.TemplateValidationError as exc:
        return _render("template_import", status=422, result=None, problems=exc.problems)
    if dry_run:
        s.rollback()
    else:
        s.commit()
    return _render("template_import", result=result, problems=[])


@bp.get("/policies")
@login_required(role="admin")
def policy_list():
    s = db_session()
    return _render(
        "policies",
        items=policies.all_policies(s),
        fields=policies.FIELDS,
        uncovered=policies.uncovered_portfolios(s),
    )


@bp.route("/policies/edit", methods=["GET", "POST"])
@login_required(role="admin")
def policy_edit():
    s = db_session()
    portfolio = (request.values.get("portfolio") or "").strip()
    today = clock.today_in(current_app.config["AGENT_TIMEZONE"])
    policy = policies.get(s, portfolio, today) if portfolio else None
    errors = {}
    values = policies.values_of(policy)
    effective = request.form.get("effective_from", "") or today.isoformat()
    if request.method == "POST":
        values = {name: request.form.get(name, "") for name in policies.FIELD_NAMES}
        try:
            parsed = policies.parse(request.form, policies.values_of(policy))
            day = policies.parse_effective(request.form.get("effective_from"), today)
            _policy, changes = policies.save(s, portfolio, parsed, current_user(), day, today)
        except policies.PolicyError as exc:
            errors = exc.errors
        else:
            s.commit()
            if changes:
                flash(
                    _(
                        "Saved the policy of %(portfolio)s from %(day)s: %(count)s change(s).",
                        portfolio=portfolio,
                        day=format_date(day),
                        count=len(changes),
                    ),
                    "info",
                )
            else:
                flash(_("Nothing changed."), "info")
            return redirect(url_for("admin.policy_list"))
    return _render(
        "policy_edit",
        status=422 if errors else 200,
        portfolio=portfolio,
        policy=policy,
        values=values,
        errors=errors,
        fields=policies.FIELDS,
        effective_from=effective,
        today=today.isoformat(),
        pending=policies.pending_versions(s, portfolio, today) if portfolio else [],
        history=policies.history(s, policy) if policy is not None else [],
    )


@bp.route("/import", methods=["GET", "POST"])
@login_required(role="admin")
def debt_import():
    if request.method == "GET":
        return _render("import", report=None)
    data = _upload_text("file")
    if data is None:
        return _render("import", status=400, report=None)
    s = db_session()
    report = imports.import_csv(s, data)  # the CLI's own function: same checks, same result
    user = current_user()
    audit.record(
        s,
        users.actor(user),
        "debts.imported",
        user,
        {
            "file": inputs.clean_text(request.files["file"].filename, 128),
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": report.rejected,
        },
    )
    s.commit()
    loaded = report.created + report.updated + report.unchanged
    status = 422 if report.rejected and not loaded else 200
    return _render("import", status=status, report=report)


@bp.get("/export/accounts.csv")
@login_required(role="admin")
def account_export():
    s = db_session()
    text = "".join(exports.accounts_csv(s))
    user = current_user()
    audit.record(
        s, users.actor(user), "accounts.exported", user, {"rows": max(text.count("\r\n") - 1, 0)}
    )
    s.commit()
    stamp = clock.utcnow().strftime("%Y%m%d-%H%M%S")
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="accounts-{stamp}.csv"'},
    )
