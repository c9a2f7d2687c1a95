"""Reminders through the contact decision: a batch of due rows, gated with what was loaded
for them in a few queries (bot.contact.decision.Context)."""

from bot import channels
from bot.contact.decision import Context, Decision, decide

__all__ = ["Context", "Decision", "check"]

PREFERENCE = (channels.WHATSAPP, channels.SMS)


def check(ctx, item, now):
    """Decide on one reminder. item has debtor_id, phone, country, region, timezone,
    opted_out_whatsapp_at, opted_out_sms_at, wrong_number_at, account_status, template_key and
    expires_at (a row of the dispatch query). WhatsApp first, SMS where the rule allows it; a
    reminder that could only go after its expiry gives way to the cadence's next step (or, the
    last step, expires), except one waiting for an agent to hand the conversation back (its
    expiry moves with the wait)."""
    decision = decide(
        ctx,
        ctx.facts(item),
        now,
        "reminder",
        PREFERENCE,
        template_key=item.template_key,
        account_status=item.account_status,
    )
    if (
        decision.action == "defer"
        and decision.reason != "agent_held"
        and decision.next_at > item.expires_at
    ):
        return Decision(
            "suppress",
            past_expiry(item, decision.reason),
            decision.channel,
            template_key=decision.template_key,
            rule=decision.rule,
            zones=decision.zones,
            pack=decision.pack,
        )
    return decision


def past_expiry(item, reason):
    """Why a reminder whose next legal slot comes after its expiry goes no further: the
    cadence's next step takes its place (the planner fits the cadence into the legal slots),
    or, for the last step, it expired (recorded with the reason no slot was found)."""
    successor = getattr(item, "next_step", None)
    return f"superseded:{successor}"[:64] if successor else f"expired:{reason}"
