"""Defining, changing, stopping and promoting experiments (everything audited).

A template experiment varies the reminders rendered from one template key: each variant may
use another key (a text or tone with the same variables: `add_text_variant` makes one in the
template store), another local send hour, another offer line. A cadence experiment gives a
segment's debtors another list of cadence steps. Shares are whole percents summing to 100;
exactly one variant is the control (the champion), which changes nothing."""

import re
import secrets

from sqlalchemy import select

from bot import audit, clock, statuses, users
from bot.models import Experiment, ExperimentVariant, MessageTemplate, Segment, TemplateKey

KINDS = ("template", "cadence")
OFFERS = ("none", "plan", "discount")
CADENCE_KINDS = ("due", "installment", "promise")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ExperimentError(ValueError):
    """An experiment or variant that cannot be used; problems lists every reason."""

    def __init__(self, problems):
        problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(problems))
        self.problems = problems


def _required(spec):
    return set(spec.variables or {}) - set(spec.optional or [])


def _actor(user):
    """The audit log's name for who acted: a console user, or the command line."""
    return users.actor(user) if user is not None else "cli"


def check_variant(session, kind, base_key, data):
    """Problems with one variant's settings (a dict as parse_variant returns)."""
    problems = []
    name = data.get("name") or ""
    if not _NAME.match(name) or len(name) > 32:
        problems.append(f"variant name {name!r}: letters, digits, dots, dashes, at most 32")
    share = data.get("share")
    if not isinstance(share, int) or not 0 <= share <= 100:
        problems.append(f"variant {name}: the share is a whole percent from 0 to 100")
    key = data.get("template_key")
    if key:
        if kind != "template":
            problems.append(f"variant {name}: only a template experiment changes the text")
        spec, base = session.get(TemplateKey, key), session.get(TemplateKey, base_key or "")
        if spec is None:
            problems.append(f"variant {name}: unknown template key {key}")
        elif base is not None and not _required(spec) <= set(base.variables or {}):
            problems.append(
                f"variant {name}: {key} needs variables {base_key} does not have "
                f"({', '.join(sorted(_required(spec) - set(base.variables or {})))})"
            )
    hour = data.get("send_hour")
    if hour is not None and (not isinstance(hour, int) or not 0 <= hour <= 23):
        problems.append(f"variant {name}: the send hour is a whole hour from 0 to 23")
    if data.get("offer") is not None and data["offer"] not in OFFERS:
        problems.append(f"variant {name}: the offer is none, plan or discount")
    cadence = data.get("cadence")
    if cadence is not None:
        if kind != "cadence":
            problems.append(f"variant {name}: only a cadence experiment changes the cadence")
        elif not isinstance(cadence, list) or not all(
            isinstance(s, dict)
            and s.get("kind") in CADENCE_KINDS
            and isinstance(s.get("offset"), int)
            and abs(s["offset"]) <= 365
            for s in cadence
        ):
            problems.append(f"variant {name}: cadence steps are kind (due, installment, promise)")
    return problems


def check_shares(variants):
    problems = []
    if len(variants) < 2:
        problems.append("an experiment needs a control and at least one challenger")
    if sum(v["share"] for v in variants if isinstance(v.get("share"), int)) != 100:
        problems.append("the shares must add up to 100 %")
    if sum(1 for v in variants if v.get("is_control")) != 1:
        problems.append("exactly one variant is the control")
    names = [v.get("name") for v in variants]
    if len(set(names)) != len(names):
        problems.append("variant names must differ")
    return problems


def create(session, name, kind, variants, user, template_key=None, segment=None, description=""):
    """A new running experiment; raises ExperimentError naming every problem."""
    problems = []
    name = (name or "").strip()
    if not _NAME.match(name):
        problems.append("the name is 1-64 letters, digits, dots, dashes or underscores")
    elif session.execute(select(Experiment.id).where(Experiment.name == name)).first():
        problems.append(f"an experiment named {name} exists already")
    if kind not in KINDS:
        problems.append("the kind is template or cadence")
    if kind == "template" and session.get(TemplateKey, template_key or "") is None:
        problems.append(f"unknown template key {template_key!r}")
    if kind == "cadence" and session.get(Segment, segment or "") is None:
        problems.append(f"unknown segment {segment!r}")
    if segment and kind == "template" and session.get(Segment, segment) is None:
        problems.append(f"unknown segment {segment!r}")
    clash = _running_clash(session, kind, template_key, segment)
    if clash:
        problems.append(f"experiment {clash} already varies the same thing; stop it first")
    for data in variants:
        problems += check_variant(session, kind, template_key, data)
    problems += check_shares(variants)
    if problems:
        raise ExperimentError(problems)
    experiment = Experiment(
        name=name,
        kind=kind,
        template_key=template_key if kind == "template" else None,
        segment=segment or None,
        status=statuses.Experiment.RUNNING,
        salt=secrets.token_hex(8),
        description=(description or "")[:256],
        created_by=_actor(user),
        started_at=clock.utcnow(),
    )
    experiment.variants = [
        ExperimentVariant(
            name=v["name"],
            is_control=bool(v.get("is_control")),
            share=v["share"],
            template_key=v.get("template_key") or None,
            send_hour=v.get("send_hour"),
            offer=v.get("offer"),
            cadence=v.get("cadence"),
        )
        for v in variants
    ]
    session.add(experiment)
    audit.record(
        session,
        experiment.created_by,
        "experiment.created",
        experiment,
        {"kind": kind, "template_key": template_key, "segment": segment, "variants": variants},
    )
    return experiment


def _running_clash(session, kind, template_key, segment):
    stmt = select(Experiment.name).where(
        Experiment.status.in_((statuses.Experiment.RUNNING, statuses.Experiment.PROMOTED)),
        Experiment.kind == kind,
    )
    if kind == "template":
        stmt = stmt.where(Experiment.template_key == template_key)
    else:
        stmt = stmt.where(Experiment.segment == segment)
    return session.execute(stmt.limit(1)).scalar()


def set_shares(session, experiment, shares, user):
    """New shares {variant id: percent}. Debtors already assigned keep their variant; only
    debtors met from now on are split by the new shares."""
    if experiment.status != statuses.Experiment.RUNNING:
        raise ExperimentError("only a running experiment's shares can change")
    wanted = [
        {"name": v.name, "share": shares.get(v.id), "is_control": v.is_control}
        for v in experiment.variants
    ]
    problems = check_shares(wanted)
    if any(not isinstance(w["share"], int) or not 0 <= w["share"] <= 100 for w in wanted):
        problems.append("each share is a whole percent from 0 to 100")
    if problems:
        raise ExperimentError(problems)
    before = {v.name: v.share for v in experiment.variants}
    for v in experiment.variants:
        v.share = shares[v.id]
    audit.record(
        session,
        _actor(user),
        "experiment.shares_changed",
        experiment,
        {"before": before, "after": {v.name: v.share for v in experiment.variants}},
    )


def stop(session, experiment, user):
    """Everybody gets the control from now on (the results stay)."""
    if experiment.status != statuses.Experiment.RUNNING:
        raise ExperimentError("the experiment is not running")
    experiment.status = statuses.Experiment.STOPPED
    experiment.ended_at = clock.utcnow()
    audit.record(session, _actor(user), "experiment.stopped", experiment, {})


def promote(session, experiment, variant_id, user, evidence=None):
    """The winner goes to everybody from now on; evidence (the comparison the admin saw) is
    kept in the audit trail beside who decided."""
    if experiment.status != statuses.Experiment.RUNNING:
        raise ExperimentError("only a running experiment can be promoted")
    winner = next((v for v in experiment.variants if v.id == variant_id), None)
    if winner is None:
        raise ExperimentError("that variant is not part of this experiment")
    experiment.status = statuses.Experiment.PROMOTED
    experiment.winner_variant_id = winner.id
    experiment.ended_at = clock.utcnow()
    audit.record(
        session,
        _actor(user),
        "experiment.promoted",
        experiment,
        {"winner": winner.name, "variant_id": winner.id, "evidence": evidence or {}},
    )
    return winner


def add_text_variant(session, base_key, suffix, bodies, user):
    """A new template key `<base_key>~<suffix>` with the base key's variables and the given
    texts {locale: body}, saved as ordinary versioned templates (then editable in Admin >
    Templates); returns the key."""
    from bot.templates import admin as template_admin

    base = session.get(TemplateKey, base_key)
    if base is None:
        raise ExperimentError(f"unknown template key {base_key!r}")
    if not re.fullmatch(r"[a-z0-9_]{1,24}", suffix or ""):
        raise ExperimentError("the text variant's suffix is 1-24 lower-case letters or digits")
    key = f"{base_key}~{suffix}"
    if session.get(TemplateKey, key) is None:
        session.add(
            TemplateKey(
                key=key,
                description=f"Experiment text for {base_key}",
                variables=dict(base.variables or {}),
                optional=list(base.optional or []),
            )
        )
        session.flush()
    problems = []
    for locale, body in bodies.items():
        try:
            template_admin.save(session, key, locale, body, user)
        except template_admin.TemplateValidationError as exc:
            problems += [f"{locale}: {p}" for p in exc.problems]
    if problems:
        raise ExperimentError(problems)
    return key


def live_texts(session, key):
    """{locale: body} of a key's live texts (to start a text variant from)."""
    rows = session.execute(
        select(MessageTemplate)
        .where(MessageTemplate.key == key, MessageTemplate.published.is_(True))
        .order_by(MessageTemplate.locale, MessageTemplate.version)
    ).scalars()
    return {row.locale: row.body for row in rows}


def all_experiments(session):
    return session.execute(select(Experiment).order_by(Experiment.id.desc())).scalars().all()
