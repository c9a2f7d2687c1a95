"""The page a payment link opens, its choices, the providers' webhooks and the sandbox checkout.

Every choice calls the services the bot uses (plans, promises, the discount offer), so the page
creates the same plan or promise a chat would. Amounts are always computed here, never taken
from the form.
"""

import logging
from datetime import date
from functools import wraps
from types import SimpleNamespace

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from bot import audit, channels, clock, statuses
from bot.db import session
from bot.debts import parsing, plans, promises
from bot.debts.accounts import is_collectible
from bot.debts.policies import discount_offer, policy_for
from bot.models import Account, Checkout, Message, Payment, Promise
from bot.money import money_var
from bot.outbound.compose import conversation_locale
from bot.payments import links, notify, providers
from bot.payments import reconcile as payments
from bot.redis import redis_conn
from bot.web import pay_ledger
from bot.web.pay_texts import Fmt as _Fmt
from bot.web.pay_texts import texts

log = logging.getLogger(__name__)
bp = Blueprint("pay", __name__, url_prefix="/pay")
# Sections other modules add to the page (bot.web.pay_extras: other ways to pay, auto-debit,
# documents): each is called with (session, account, fmt, lang) and returns template variables.
PAGE_EXTRAS = []


def _whatsapp_number():
    sender = current_app.config["TWILIO_WHATSAPP_FROM"]
    return sender.split(":", 1)[-1].lstrip("+")


def _invalid(expired_token=None, status=410):
    """Say nothing about any debt; a genuine expired link may ask for a fresh one."""
    return render_template(
        "pay_invalid.html", whatsapp=_whatsapp_number(), renew_token=expired_token
    ), status


def _load(token):
    """(account, None) for a valid link, else (None, the invalid-link response)."""
    try:
        account_id, debtor_id = links.read(token)
    except links.LinkExpired:
        return None, _invalid(expired_token=token)
    except links.LinkInvalid:
        return None, _invalid()
    account = session().get(Account, account_id)
    if account is None or account.debtor_id != debtor_id:
        return None, _invalid()
    return account, None


def _page_locale(account):
    """The language the debtor reads: the one they write in on their conversation, else the
    one on file."""
    conversation = notify.debtor_conversation_or_none(session(), account.debtor)
    if conversation is not None:
        return conversation_locale(conversation)
    return account.debtor.locale


def _actor(account):
    return f"debtor:{account.debtor_id}"


def _view(account, notice=None, error=None, status=200):
    s = session()
    tag = _page_locale(account)
    lang = tag.split("-")[0]
    t = texts(lang)
    fmt = _Fmt(tag, account.currency)
    today = clock.today_for(account.debtor)
    collectible = is_collectible(account)
    plan = payments.active_plan(s, account)
    context = {
        "t": t,
        "lang": lang,
        "token": request.view_args["token"],
        "whatsapp": _whatsapp_number(),
        "amount": fmt.money(payments.owed(s, account)),
        "due_date": fmt.date(account.due_date),
        "reference": account.external_id,
        "collectible": collectible,
        "settled": account.status == statuses.Account.PAID or account.balance_minor == 0,
        "notice": notice,
        "error": error,
        "discount": None,
        "installment": None,
        "plan": None,
        "plan_choices": [],
        "promise": None,
    }
    if collectible:
        offer = discount_offer(s, account, today)
        if offer is not None:
            pct, amount, until = offer
            context["discount"] = {
                "pct": pct,
                "amount": fmt.money(amount),
                "until": fmt.date(until),
                "balance": fmt.money(account.balance_minor),
            }
        if plan is not None:
            upcoming = payments.next_installment(plan)
            context["plan"] = [
                {
                    "seq": i.seq,
                    "amount": fmt.money(i.amount_minor),
                    "date": fmt.date(i.due_date),
                    "paid": i.paid_minor >= i.amount_minor,
                }
                for i in plan.installments
            ]
            if upcoming is not None:
                context["installment"] = {
                    "seq": upcoming.seq,
                    "count": len(plan.installments),
                    "amount": fmt.money(upcoming.amount_minor - upcoming.paid_minor),
                    "date": fmt.date(upcoming.due_date),
                }
        else:
            context["plan_choices"] = _plan_choices(s, account, today, fmt)
        latest = promises.latest_promise_date(s, account, today)
        context["promise"] = {
            "min": today.isoformat(),
            "max": latest.isoformat(),
            "latest": fmt.date(latest),
        }
    context.update(pay_ledger.context(s, account, context["token"], today, fmt, t))
    history = s.execute(
        select(Payment)
        .where(Payment.account_id == account.id)
        .order_by(Payment.received_at.desc(), Payment.id.desc())
    ).scalars()
    context["history"] = [
        {
            "date": fmt.date(p.received_at.date()),
            "amount": fmt.money(p.amount_minor),
            "reversed": p.status == statuses.Payment.REVERSED,
        }
        for p in history
    ]
    for extra in PAGE_EXTRAS:
        context.update(extra(s, account, fmt, lang))
    return render_template("pay.html", **context), status


def _plan_choices(s, account, today, fmt):
    """Each plan the policy allows, priced as the bot prices it (actions/plans.py)."""
    policy = policy_for(s, account)
    most, _adjusted = plans.fit_count(account.balance_minor, policy, policy.max_installments)
    fee = plans.fee(account.balance_minor, policy)
    choices = []
    for count in range(plans.MIN_INSTALLMENTS, (most or 0) + 1):
        rows = plans.schedule(account.balance_minor + fee, count, policy, today)
        choices.append(
            {
                "count": count,
                "first": fmt.money(rows[0][1]),
                "each": fmt.money(rows[1][1]),
                "fee": fmt.money(fee) if fee else None,
            }
        )
    return choices


@bp.get("/<token>")
def page(token):
    account, invalid = _load(token)
    if invalid:
        return invalid
    t = texts(_page_locale(account).split("-")[0])
    notice = None
    if request.args.get("paid"):
        notice = t["paid_return"]
    elif request.args.get("done") == "plan":
        notice = t["done_plan"]
    elif request.args.get("done") == "promise":
        notice = _promise_notice(account, t)
    return _view(account, notice=notice)


def _promise_notice(account, t):
    row = (
        session()
        .execute(
            select(Promise)
            .where(Promise.account_id == account.id, Promise.status == "pending")
            .order_by(Promise.id.desc())
            .limit(1)
        )
        .scalar_one_or_none()
    )
    if row is None:
        return None
    fmt = _Fmt(_page_locale(account), account.currency)
    return t["done_promise"].format(
        amount=fmt.money(row.amount_minor), date=fmt.date(row.promised_date)
    )


def _refuse(account, key, status):
    t = texts(_page_locale(account).split("-")[0])
    return _view(account, error=t[key], status=status)


def _debt_action(allowed):
    """A choice posted from the page: the link must be valid and allowed(account) true (409
    with the page otherwise); the view gets the account."""

    def decorate(view):
        @wraps(view)
        def wrapper(token):
            account, invalid = _load(token)
            if invalid:
                return invalid
            if not allowed(account):
                return _refuse(account, "bad_request", 409)
            return view(token, account)

        return wrapper

    return decorate


@bp.post("/<token>/checkout")
@_debt_action(lambda account: pay_ledger.may_check_out(account, request.form.get("option")))
def checkout(token, account):
    """Start a provider checkout for the chosen option and send the debtor to it."""
    s = session()
    today = clock.today_for(account.debtor)
    option = request.form.get("option")
    installment = None
    if option == "full":
        amount = payments.owed(s, account)
    elif option == "discount":
        offer = discount_offer(s, account, today)
        if offer is None:
            return _refuse(account, "bad_request", 400)
        amount = offer[1]
    elif option == "installment":
        plan = payments.active_plan(s, account)
        installment = payments.next_installment(plan) if plan is not None else None
        if installment is None:
            return _refuse(account, "bad_request", 400)
        amount = installment.amount_minor - installment.paid_minor
    elif option in pay_ledger.OPTIONS:
        amount, error, status = pay_ledger.amount_for(
            s, account, option, request.form, today, _actor(account), _page_locale(account)
        )
        if error:
            return _view(account, error=error, status=status)
    else:
        return _refuse(account, "bad_request", 400)
    provider = providers.get()
    row = Checkout(
        account_id=account.id,
        provider=provider.name,
        purpose=option,
        amount_minor=amount,
        currency=account.currency,
        installment_id=installment.id if installment is not None else None,
        status="open",
    )
    s.add(row)
    s.flush()
    back = current_app.config["PUBLIC_BASE_URL"] + url_for("pay.page", token=token)
    try:
        created = provider.create_checkout(
            row, f"{account.external_id}", success_url=back + "?paid=1", cancel_url=back
        )
    except providers.ProviderError as exc:
        log.warning("checkout for account %s failed: %s", account.id, exc)
        s.rollback()
        return _refuse(account, "provider_down", 503)
    row.provider_ref, row.url = created.ref, created.url
    audit.record(
        s,
        _actor(account),
        "checkout.created",
        account,
        {
            "checkout_id": row.id,
            "purpose": option,
            "amount_minor": amount,
            "provider": provider.name,
        },
    )
    s.commit()
    return redirect(created.url, code=303)


@bp.post("/<token>/plan")
@_debt_action(is_collectible)
def plan(token, account):
    """Create the plan the bot would create for the chosen number of installments; a second
    post (a double tap) shows the plan the first one created."""
    s = session()
    if account.status == statuses.Account.PLAN:
        return redirect(url_for("pay.page", token=token, done="plan"), code=303)
    count = request.form.get("count", "").strip()
    if not (count.isascii() and count.isdigit() and len(count) <= 4):
        return _refuse(account, "bad_request", 400)
    policy = policy_for(s, account)
    fitted, adjusted = plans.fit_count(account.balance_minor, policy, int(count))
    if adjusted:  # the page only offers counts that fit: anything else is a forged form
        return _refuse(account, "bad_request", 400)
    fee = plans.fee(account.balance_minor, policy)
    today = clock.today_for(account.debtor)
    rows = plans.schedule(account.balance_minor + fee, fitted, policy, today)
    plans.create_plan(s, account, rows, actor=_actor(account), fee_minor=fee)
    s.commit()
    return redirect(url_for("pay.page", token=token, done="plan"), code=303)


@bp.post("/<token>/promise")
@_debt_action(is_collectible)
def promise(token, account):
    """Record the promise the bot would record for the chosen date."""
    s = session()
    try:
        day = date.fromisoformat(request.form.get("date", ""))
    except ValueError:
        return _refuse(account, "bad_request", 400)
    today = clock.today_for(account.debtor)
    amount = parsing.parse_amount(request.form.get("amount", ""), account.currency)
    # The same service as the chat, on the debt this link is for (a partial amount if named).
    outcome, detail = promises.promise(
        s,
        SimpleNamespace(debtor_id=account.debtor_id),
        day,
        _actor(account),
        today=today,
        account=account,
        amount_minor=amount,
    )
    if outcome == "too_small":
        error = pay_ledger.too_small(account, detail, _page_locale(account))
        return _view(account, error=error, status=422)
    if outcome == "past":
        return _refuse(account, "promise_past", 422)
    if outcome == "too_far":
        t = texts(_page_locale(account).split("-")[0])
        latest = _Fmt(_page_locale(account), account.currency).date(detail)
        return _view(account, error=t["promise_too_far"].format(latest=latest), status=422)
    if outcome != "recorded":
        return _refuse(account, "bad_request", 409)
    s.commit()
    return redirect(url_for("pay.page", token=token, done="promise"), code=303)


@bp.post("/<token>/renew")
def renew(token):
    """Send a fresh link on WhatsApp to the number an expired link was for; reveal nothing."""
    try:
        account_id, debtor_id = links.read_expired(token)
    except links.LinkInvalid:
        return _invalid(status=400)
    s = session()
    account = s.get(Account, account_id)
    sent = render_template("pay_renewed.html", whatsapp=_whatsapp_number())
    if account is None or account.debtor_id != debtor_id:
        return sent, 200
    redis = redis_conn()
    key = f"paylink:renew:{debtor_id}"
    with redis.pipeline() as pipe:
        pipe.set(key, 0, ex=3600, nx=True)  # the window starts at the first request
        pipe.incr(key)
        _, count = pipe.execute()
    if count > current_app.config["FRESH_LINKS_PER_HOUR"]:
        return sent, 429
    if not is_collectible(account):
        return sent, 200
    variables = {
        "amount": money_var(account.balance_minor, account.currency),
        "url": links.payment_url(account),
        "hours": current_app.config["PAY_LINK_TTL_HOURS"],
    }
    row = notify.send_to_debtor(
        s, account.debtor, "payment.link", variables, "requested", channel=channels.WHATSAPP
    )
    if isinstance(row, Message):
        audit.record(s, "debtor", "payment_link.sent", account, {"renewed": True})
    s.commit()
    return sent, 200
