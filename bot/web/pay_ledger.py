"""The pay page's ledger parts: what the balance is made of, a partial payment of the amount
the debtor names, and a settlement inside the policy (accept the offer, or name an amount).

They go through the services the chat uses (bot.ledger.breakdown, bot.debts.partial,
bot.debts.settlements); amounts are computed here from the policy and the ledger, and a typed
amount is only ever a request that those services accept or refuse.
"""

from bot import statuses
from bot.debts import parsing, partial, settlements
from bot.debts.accounts import is_collectible
from bot.ledger import breakdown
from bot.money import to_decimal
from bot.payments import links
from bot.payments.reconcile import owed
from bot.templates import store as templates
from bot.web.pay_texts import Fmt, texts

OPTIONS = ("partial", "settlement")


def context(s, account, token, today, fmt, t):
    """Template context: breakdown, partial and settlement (each None when not shown)."""
    found = {"breakdown": None, "partial": None, "settlement": None}
    sums = breakdown.totals(s, account)
    sums["payments"] -= sums["refunds"]
    shown = ("interest", "fees", "payments", "discounts")
    if any(sums[k] for k in shown):
        terms = breakdown.balance_breakdown(s, account, today).get("interest_terms")
        found["breakdown"] = {
            "rows": [
                {"label": t[f"bd_{k}"], "amount": fmt.money(sums[k])}
                for k in ("principal", *shown)
                if k == "principal" or sums[k]
            ],
            "rate": templates.format_value("number", terms["annual_rate"], fmt.locale)
            if terms
            else None,
        }
    if not partial.accepts(account):
        return found
    due = owed(s, account)
    asked = links.amount_of(token)
    found["partial"] = {
        "minimum": fmt.money(partial.minimum(s, account, today)),
        "value": str(to_decimal(asked, account.currency)) if asked and asked < due else "",
    }
    if account.status not in statuses.Account.COLLECTIBLE:
        return found  # under review: only the part the debtor recognises (a partial payment)
    agreed = settlements.active(s, account)
    if agreed is not None:
        found["settlement"] = {
            "agreed": True,
            "amount": fmt.money(due),
            "until": fmt.date(agreed.pay_by),
        }
        return found
    offer = settlements.offer(s, account, today)
    if offer is not None:
        found["settlement"] = {
            "agreed": False,
            "amount": fmt.money(offer.amount_minor),
            "pct": offer.pct,
            "until": fmt.date(offer.until),
            "forgiven": fmt.money(offer.forgiven_minor),
        }
    return found


def too_small(account, minimum, tag):
    """The refusal of a partial amount under the minimum, in the page's language."""
    t, fmt = texts(tag.split("-")[0]), Fmt(tag, account.currency)
    return t["partial_too_small"].format(minimum=fmt.money(minimum))


def may_check_out(account, option):
    """A checkout is for a collectible account, or a partial payment on one under review."""
    if option == "partial":
        return partial.accepts(account)
    return is_collectible(account)


def amount_for(s, account, option, form, today, actor, tag):
    """(amount to pay, None, None) for a partial or settlement checkout, or (None, error text,
    HTTP status) when the request is refused; tag is the page's locale."""
    t, fmt = texts(tag.split("-")[0]), Fmt(tag, account.currency)
    if option == "partial":
        amount = parsing.parse_amount(form.get("amount", ""), account.currency)
        outcome, due, least = partial.check(s, account, amount, today)
        if outcome == "too_small":
            return None, too_small(account, least, tag), 422
        if outcome == "nothing_owed":
            return None, t["bad_request"], 409
        return min(amount, due), None, None
    agreed = settlements.active(s, account)
    if agreed is not None:
        return owed(s, account), None, None
    text = (form.get("settle_amount") or "").strip()
    if text:
        amount = parsing.parse_amount(text, account.currency)
        if amount is None:
            return None, t["bad_request"], 400
        outcome, proposal = settlements.ask(s, account, amount, today)
        if outcome == "full":
            return owed(s, account), None, None
        if outcome == "counter":
            error = t["settlement_counter"].format(
                amount=fmt.money(proposal.amount_minor),
                pct=proposal.pct,
                until=fmt.date(proposal.until),
            )
            return None, error, 422
    else:
        proposal = settlements.offer(s, account, today)
    if proposal is None:
        return None, t["settlement_none"], 409
    settlements.agree(s, account, proposal, actor, today)
    return proposal.amount_minor, None, None
