"""The consoles in the staff's language (Spanish or English) with Flask-Babel: the user's
stored choice, else the browser's, else English. Dates, numbers and money on console pages are
formatted by Babel in that locale; the debtor's own texts stay in the template store."""

import copy
from pathlib import Path

from babel.numbers import parse_pattern
from flask import Blueprint, g, redirect, request, session
from flask_babel import (
    Babel,
    format_date,
    format_datetime,
    get_locale,
    refresh,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from bot.db import session as db_session
from bot.money import to_decimal

LANGUAGES = {"es": "Español", "en": "English"}
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"

bp = Blueprint("i18n", __name__, url_prefix="/console")


def select_locale():
    """The console user's language: their choice, else the browser's, else English."""
    if not request or not request.path.startswith("/console"):
        return "en"
    from bot.web.console.auth import current_user

    user = current_user()
    if user is not None and user.locale in LANGUAGES:
        return user.locale
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def init_app(app):
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config["AGENT_TIMEZONE"])
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals.update(
        LANGUAGES=LANGUAGES,
        reason=reason,
        state=state,
        field_label=field_label,
        field_help=field_help,
        choice_label=choice_label,
        rail_kind=rail_kind,
        decision_label=decision_label,
        js_labels=js_labels,
    )
    app.jinja_env.globals["console_lang"] = lambda: str(get_locale() or "en")
    app.jinja_env.filters.update(
        money=money,
        exact=exact,
        number=number,
        percent=percent,
        when=when,
        day=day,
    )
    app.register_blueprint(bp)


@bp.before_app_request
def _fresh_locale():
    # Babel caches the locale on the app context, which may span several requests (tests).
    refresh()


def _patterns():
    """The user's locale and its number patterns, parsed once per request: a results page
    formats a thousand cells, and Babel parses a pattern on every call otherwise."""
    cached = g.get("babel_patterns")
    if cached is None or cached[0] != str(get_locale()):
        locale = get_locale()
        cached = (
            str(locale),
            locale,
            {
                "decimal": locale.decimal_formats[None],
                "currency": locale.currency_formats["standard"],
            },
        )
        g.babel_patterns = cached
    return cached[1], cached[2]


def _pattern(key, text):
    locale, patterns = _patterns()
    if key not in patterns:
        patterns[key] = parse_pattern(text)
    return locale, patterns[key]


def money(minor, currency):
    """An amount in minor units, formatted for the console user's locale (150.000,00 COP)."""
    if minor is None:
        return "—"
    locale, patterns = _patterns()
    return patterns["currency"].apply(to_decimal(minor, currency), locale, currency=currency)


def exact(value, currency):
    """An exact price or cost: at least two decimals, up to six when the value has them."""
    if value is None:
        return "—"
    digits = min(max(-value.normalize().as_tuple().exponent, 2), 6)
    locale, pattern = _pattern(f"exact{digits}", "¤#,##0." + "0" * digits)
    return pattern.apply(value, locale, currency=currency, currency_digits=False)


def duration(seconds):
    """Seconds as minutes and seconds (12 min 05 s)."""
    if seconds is None:
        return "—"
    minutes, rest = divmod(int(seconds), 60)
    return _("%(minutes)d min %(seconds)02d s", minutes=minutes, seconds=rest)


def number(value, digits=None):
    if value is None:
        return "—"
    if digits is None:
        locale, patterns = _patterns()
        if isinstance(value, int) and (abs(value) < 1000 or abs(value) >= 10_000):
            # Whole numbers outside 1,000-9,999 (where Spanish does not group): the locale's
            # grouping symbol on 3-digit groups, without Babel's pattern machinery for each of
            # a page's many counts (es and en both group by three).
            return f"{value:,}".replace(",", locale.number_symbols["latn"]["group"])
        return patterns["decimal"].apply(value, locale)
    locale, pattern = _pattern(f"decimal{digits}", "#,##0." + "0" * digits if digits else "#,##0")
    return pattern.apply(value, locale)


def percent(value, digits=1):
    """A share in the locale's percent format (52,4 % in Spanish, 52.4% in English)."""
    if value is None:
        return "—"
    locale, patterns = _patterns()
    key = f"percent{digits}"
    if key not in patterns:
        pattern = copy.copy(locale.percent_formats[None])
        pattern.frac_prec = (digits, digits)
        patterns[key] = pattern
    return patterns[key].apply(value, locale)


def when(moment, style="short"):
    """A naive-UTC moment in the console's zone and the user's locale."""
    return format_datetime(moment, style) if moment is not None else "—"


def day(value, style="medium"):
    return format_date(value, style) if value is not None else "—"


@bp.post("/language")
def choose_language():
    """Store the language picked in the header: on the user when signed in, else the session."""
    from bot.web.console.auth import check_csrf, current_user, safe_next

    check_csrf()
    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        session["lang"] = lang
        user = current_user()
        if user is not None:
            user.locale = lang
            db_session().commit()
    return redirect(safe_next(request.form.get("next")))


# Texts that come from the domain in English (reasons, statuses, policy fields), translated
# here by their code so that the domain stays free of console concerns.
REASONS = {
    "request_agent": _l("Asked for a person"),
    "dispute": _l("Dispute"),
    "hardship": _l("Hardship"),
    "failed_verification": _l("Failed verification"),
    "misunderstood": _l("Repeated misunderstanding"),
    "already_paid": _l("Already-paid claim"),
    "receipt": _l("Payment receipt to verify"),
    "refund": _l("Payment refunded by the provider"),
    "chargeback": _l("Payment charged back"),
    "delivery_failure": _l("Delivery failure"),
    "bot_unavailable": _l("Bot unavailable"),
    "processing_error": _l("Processing error"),
    "render_error": _l("Message template error"),
    "wrong_number": _l("Wrong number"),
}
STATES = {
    "bot": _l("bot"),
    "agent": _l("agent"),
    "closed": _l("closed"),
    "open": _l("open"),
    "plan": _l("plan"),
    "disputed": _l("disputed"),
    "claim_review": _l("claim under review"),
    "paid": _l("paid"),
    "reversed": _l("reversed"),
    "active": _l("active"),
    "completed": _l("completed"),
    "due": _l("due"),
    "pending": _l("pending"),
    "kept": _l("kept"),
    "broken": _l("broken"),
    "confirmed": _l("confirmed"),
    "rejected": _l("rejected"),
    "upheld": _l("upheld"),
    "received": _l("received"),
    "processed": _l("processed"),
    "for_agent": _l("for the agent"),
    "failed": _l("failed"),
    "sending": _l("sending"),
    "queued": _l("queued"),
    "sent": _l("sent"),
    "delivered": _l("delivered"),
    "undelivered": _l("undelivered"),
    "read": _l("read"),
    "suppressed": _l("suppressed"),
    "accepted": _l("accepted"),
    "unusable": _l("unusable"),
    "expired": _l("expired"),
    "cancelled": _l("cancelled"),
}
POLICY_FIELDS = {
    "max_installments": (_l("Maximum installments"), None),
    "min_first_payment_pct": (_l("Minimum first payment (percent of the balance)"), None),
    "min_first_payment_minor": (
        _l("Minimum first payment (amount, minor units)"),
        _l(
            "The first installment is at least the larger of the percentage and this amount; "
            "0 = none."
        ),
    ),
    "min_installment_minor": (
        _l("Minimum installment amount (minor units)"),
        _l("Fewer installments are offered when they would be smaller; 0 = none."),
    ),
    "plan_fee_bps": (_l("Plan fee (basis points of the balance)"), _l("150 = 1.5 %.")),
    "max_promise_days": (_l("Maximum days to a promise to pay"), None),
    "max_deferral_days": (_l("Maximum deferral days (asking for more time)"), None),
    "discount_max_pct": (_l("Pay-in-full discount, maximum %"), None),
    "discount_valid_days": (_l("Pay-in-full discount valid for (days)"), None),
    "late_fee_minor": (
        _l("Late fee, fixed amount (minor units)"),
        _l("Charged once on an installment overdue by more than the grace days."),
    ),
    "late_fee_bps": (_l("Late fee (basis points of the overdue amount)"), None),
    "late_fee_grace_days": (_l("Late fee grace days"), None),
    "allocation_order": (
        _l("Payment allocation order"),
        _l("Which part of the balance a payment pays first."),
    ),
    "interest_rate_bps": (
        _l("Interest, annual rate (basis points)"),
        _l("Simple daily interest on overdue principal; 2400 = 24 % a year; 0 = none."),
    ),
    "interest_max_rate_bps": (
        _l("Interest, maximum annual rate (basis points)"),
        _l("The legal cap (e.g. the usury rate): the rate charged is never above it; 0 = no cap."),
    ),
    "interest_max_total_bps": (
        _l("Interest, maximum total (basis points of the amount due)"),
        _l("All interest ever charged stays under this share of the debt; 0 = no cap."),
    ),
    "interest_basis": (_l("Interest day count"), None),
    "interest_grace_days": (_l("Interest grace days"), None),
    "min_partial_minor": (
        _l("Minimum partial payment (minor units)"),
        _l("The smallest amount a debtor may choose to pay; 0 = any amount."),
    ),
    "settlement_offer_pct": (
        _l("Settlement offered (percent of the balance)"),
        _l("Paying this share of the balance by the date closes the account; 0 = no settlements."),
    ),
    "settlement_min_pct": (
        _l("Settlement, lowest % a debtor may ask for"),
        _l("At most the percentage offered; 0 = only the offer."),
    ),
    "settlement_valid_days": (_l("Settlement valid for (days)"), None),
    "settlement_min_days_overdue": (_l("Settlements only after (days overdue)"), None),
}
# The words of a policy field's choices (the allocation order's parts, the day counts).
CHOICES = {
    "fee": _l("fee"),
    "interest": _l("interest"),
    "principal": _l("principal"),
    "365-day year": _l("365-day year"),
    "360-day year": _l("360-day year"),
    "actual days (366 in leap years)": _l("actual days (366 in leap years)"),
}


def reason(code):
    if code in REASONS:
        return str(REASONS[code])
    return (code or _("other")).replace("_", " ").capitalize()


def state(code):
    return str(STATES[code]) if code in STATES else (code or "—")


def field_label(field):
    label, _help = POLICY_FIELDS.get(field.name, (field.label, None))
    return str(label)


RAIL_KINDS = {
    "bank_debit": _l("bank debit"),
    "bank_transfer": _l("bank transfer"),
    "cash_deposit": _l("cash deposit"),
    "cash_reference": _l("cash reference"),
    "instant_transfer": _l("instant transfer"),
    "provider_checkout": _l("provider checkout"),
    "wallet": _l("wallet"),
    "custom": _l("custom"),
}


def rail_kind(code):
    """A payment method's kind (the seeds' codes) in the user's language."""
    return str(RAIL_KINDS[code]) if code in RAIL_KINDS else (code or "—").replace("_", " ")


def choice_label(label):
    """A policy choice in the user's language (fee → interest → principal, by its parts)."""
    return " → ".join(str(CHOICES.get(part, part)) for part in str(label).split(" → "))


def field_help(field):
    _label, help_text = POLICY_FIELDS.get(field.name, (None, field.help))
    return str(help_text) if help_text else None


DECISIONS = {
    "confirm": _l("Confirm"),
    "reject": _l("Reject"),
    "uphold": _l("Uphold"),
}


def decision_label(decision):
    return str(DECISIONS.get(decision, decision))


def js_labels():
    """Words the console's script writes into live updates."""
    return {
        "nobody": _("Nobody is waiting."),
        "min": _("min"),
        "states": {code: str(label) for code, label in STATES.items()},
    }


# What the domain says when it refuses an agent's action, translated by its English text
# (messages with details in them stay in English).
DOMAIN_TEXTS = (
    _l("Claim the conversation before acting on it."),
    _l("Write a reply first."),
    _l("A reply can have at most 1,600 characters."),
    _l("WhatsApp's 24-hour window is closed: only an approved template can be sent."),
    _l("A note needs some text."),
    _l("Only an admin can take over another agent's conversation."),
    _l("Taking over needs a reason."),
    _l("The conversation changed meanwhile; reload and try again."),
    _l("That debt is not this debtor's."),
    _l("That debt has nothing to collect right now."),
    _l("Collection on that debt is paused."),
    _l("The promised date is in the past."),
    _l("Plans are for open debts without a plan."),
    _l("That claim is not this debtor's."),
    _l("That claim is already resolved."),
    _l("That dispute is not this debtor's."),
    _l("That dispute is already resolved."),
    _l("That promise is already recorded."),
    _l("That debt is already on a plan."),
    _l("No debt matches that account or reference."),
    _l("That debt is not the sender's."),
    _l("This receipt was already decided by someone else."),
    _l("This receipt was already decided."),
    _l("The amount must be more than zero."),
    _l("The payment date must be a date, not in the future."),
    _l("The payment date is more than a year ago."),
    _l("Say why the receipt is rejected."),
)


def domain_text(error):
    """An error from the domain in the user's language when the catalogue knows it."""
    return _(str(error))
