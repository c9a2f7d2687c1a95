"""What the results dashboard calls things, in the console user's language, and its charts
as Chart.js reads them."""

from flask_babel import lazy_gettext as _l

from bot.analytics import report

SECTIONS = {
    "series": (_l("Day by day"), _l("Reminders sent, replies and payments per day.")),
    "funnel": (
        _l("Contact funnel"),
        _l(
            "Each reminder sent in the period and what followed within 7 days. Read receipts "
            "exist on WhatsApp only."
        ),
    ),
    "templates": (
        _l("Per template"),
        _l("Reply, outcome, payment and opt-out rates of the reminders sent with each text."),
    ),
    "recovery": (
        _l("Recovery by cohort"),
        _l(
            "Collected in the period over what was due at its start (plus what was placed "
            "during it), per month of the due date."
        ),
    ),
    "rolls": (
        _l("Cures and roll rates"),
        _l(
            "Accounts entering each bucket of days past due in the period; 30 days later, "
            "cured (paid or on a plan) or rolled on to the next bucket."
        ),
    ),
    "outcomes": (_l("Promises, self-service and opt-outs"), None),
    "agents": (_l("Agents' workload"), _l("Handling time runs from the claim to the hand-back.")),
    "escalations": (_l("Conversations queued for a person"), None),
    "cost": (
        _l("Cost per unit recovered"),
        _l("Messages sent times the prices entered by an admin, over the amount collected."),
    ),
}
COLUMNS = {
    "stage": _l("Stage"),
    "count": _l("Count"),
    "share_of_contacted": _l("Share of contacted"),
    "day": _l("Day"),
    "contacted": _l("Contacted"),
    "replied": _l("Replied"),
    "paid": _l("Payments"),
    "collected": _l("Collected"),
    "template": _l("Template"),
    "reply_rate": _l("Reply rate"),
    "outcome_rate": _l("Outcome rate"),
    "payment_rate": _l("Payment rate"),
    "opt_out_rate": _l("Opt-out rate"),
    "cohort": _l("Cohort"),
    "currency": _l("Currency"),
    "due_at_start": _l("Due at start"),
    "placed": _l("Placed"),
    "recovery_rate": _l("Recovery rate"),
    "bucket": _l("Days past due"),
    "entered": _l("Entered"),
    "matured": _l("30 days passed"),
    "cured": _l("Cured"),
    "rolled": _l("Rolled on"),
    "cure_rate": _l("Cure rate"),
    "roll_rate": _l("Roll rate"),
    "measure": _l("Measure"),
    "rate": _l("Rate"),
    "agent": _l("Agent"),
    "claimed": _l("Claimed"),
    "handled": _l("Handled"),
    "messages": _l("Messages"),
    "average_handling": _l("Average handling time"),
    "reason": _l("Reason"),
    "channel": _l("Channel"),
    "price": _l("Price per message"),
    "cost": _l("Cost"),
    "cost_per_unit": _l("Cost per unit recovered"),
}
STAGES = {
    "contacted": _l("Contacted"),
    "delivered": _l("Delivered"),
    "read": _l("Read"),
    "replied": _l("Replied"),
    "verified": _l("Identity verified"),
    "outcome": _l("Outcome (promise, plan, claim, dispute or payment)"),
    "promised": _l("Promised"),
    "paid": _l("Paid"),
    "opted_out": _l("Opted out"),
}
MEASURES = {
    "promises_made": _l("Promises made"),
    "promises_kept": _l("Promises kept (of those due)"),
    "promises_broken": _l("Promises broken"),
    "promises_pending": _l("Promises due, not settled yet"),
    "plans_created": _l("Plans agreed"),
    "claims": _l("Already-paid claims"),
    "disputes": _l("Disputes"),
    "resolved_self_service": _l("Resolved without an agent (self-service)"),
    "resolved_with_agent": _l("Resolved with an agent"),
    "opt_outs": _l("Opt-outs and wrong numbers (rate per reminder)"),
}
CARDS = {
    "contacted": _l("Reminders sent"),
    "reply_rate": _l("Reply rate"),
    "promise_kept_rate": _l("Promise-kept rate"),
    "cure_rate": _l("Cure rate (30 days)"),
    "self_service_rate": _l("Self-service rate"),
    "opt_out_rate": _l("Opt-out rate"),
    "recovery_rate": _l("Recovery rate"),
    "cost_per_unit": _l("Cost per unit recovered"),
}
RATES = {
    "reply": _l("Reply rate"),
    "promise": _l("Promise rate"),
    "payment": _l("Payment rate"),
    "promise_kept": _l("Promise-kept rate"),
}
FILTERS = {
    "portfolio": _l("Portfolio"),
    "segment": _l("Segment"),
    "country": _l("Country"),
    "channel": _l("Channel"),
    "template_key": _l("Template"),
    "variant_id": _l("Variant"),
    "currency": _l("Currency"),
}
SERIES = {
    "count": _l("Count"),
    "contacted": _l("Contacted"),
    "replied": _l("Replied"),
    "paid": _l("Payments"),
    "reply_rate": _l("Reply rate"),
    "opt_out_rate": _l("Opt-out rate"),
    "recovery_rate": _l("Recovery rate"),
    "cure_rate": _l("Cure rate"),
    "roll_rate": _l("Roll rate"),
    "handled": _l("Handled"),
    "messages": _l("Messages"),
}


def section_title(key):
    return str(SECTIONS[key][0])


def section_note(key):
    note = SECTIONS[key][1]
    return str(note) if note else ""


def column(key):
    return str(COLUMNS.get(key, key))


def first_cell(section, value):
    """The label column: stages and measures by name, empty segments and templates named."""
    if section.key == "funnel":
        return str(STAGES.get(value, value))
    if section.key == "outcomes":
        return str(MEASURES.get(value, value))
    if section.key == "templates" and not value:
        return str(_l("(no reminder)"))
    if section.key == "cost" and value == "*":
        return str(_l("All channels"))
    return value


def card(key):
    name, _sep, currency = key.partition(":")
    label = str(CARDS.get(name, name))
    return f"{label} ({currency})" if currency else label


def chart(section):
    """The section's chart with translated labels, as the page's script hands it to Chart.js."""
    spec = dict(section.chart)
    labels = spec["labels"]
    if section.key == "funnel":
        labels = [str(STAGES.get(label, label)) for label in labels]
    elif section.key == "templates":
        labels = [label or str(_l("(no reminder)")) for label in labels]
    spec["labels"] = labels
    spec["series"] = [
        {"label": str(SERIES.get(s["key"], s["key"])), "data": s["data"]} for s in spec["series"]
    ]
    return spec


def is_money(value):
    return isinstance(value, report.Money)


def cell(value):
    """A table cell formatted by Babel in the console user's locale."""
    from datetime import date

    from bot.web.console import i18n

    if value is None:
        return "—"
    if isinstance(value, report.Money):
        return i18n.money(value.minor, value.currency)
    if isinstance(value, report.Exact):
        return i18n.exact(value.value, value.currency)
    if isinstance(value, report.Pct):
        return i18n.percent(value.value)
    if isinstance(value, report.Seconds):
        return i18n.duration(value.value)
    if isinstance(value, date):
        return i18n.day(value)
    if isinstance(value, bool):
        return str(_l("yes") if value else _l("no"))
    if isinstance(value, int):
        return i18n.number(value)
    return str(value)


EXPERIMENT_STATUS = {
    "running": _l("running"),
    "stopped": _l("stopped"),
    "promoted": _l("winner promoted"),
}


def experiment_status(status):
    return str(EXPERIMENT_STATUS.get(status, status))


def filter_names(names):
    return ", ".join(str(FILTERS.get(n, n)) for n in names)


def rate(r):
    """A variant's rate: value, 95 % interval and the counts behind it."""
    from bot.web.console import i18n

    if not r.trials:
        return "—"
    return _l(
        "%(value)s (%(low)s–%(high)s) · %(successes)s of %(trials)s",
        value=i18n.percent(r.value),
        low=i18n.percent(r.low),
        high=i18n.percent(r.high),
        successes=i18n.number(r.successes),
        trials=i18n.number(r.trials),
    )


def versus(r):
    """A challenger against the control: ratio, its interval, p and the verdict."""
    from bot.web.console import i18n

    parts = []
    if r.ratio is not None:
        parts.append(
            str(
                _l(
                    "× %(ratio)s (%(low)s–%(high)s)",
                    ratio=i18n.number(r.ratio, 2),
                    low=i18n.number(r.ratio_low, 2),
                    high=i18n.number(r.ratio_high, 2),
                )
            )
        )
    parts.append(f"p = {i18n.number(r.p_value, 3)}")
    if r.significant:
        parts.append(str(_l("significantly better") if r.better else _l("significantly worse")))
    else:
        parts.append(str(_l("no significant difference")))
    return " · ".join(parts)
