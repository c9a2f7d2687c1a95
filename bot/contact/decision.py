"""The one contact decision: may we write to this debtor, on this channel, now, for this purpose?

Every message the bot or an agent starts asks here: reminders and campaigns when they are
dispatched and again when they are sent, thank-yous and fresh payment links, agents' messages.
The answer is send (on which channel, free text or an approved template), defer (to the next
moment the hours and caps allow) or suppress (a rule forbids it), always with a reason.
Replies to the debtor's own message are answers, not contacts: they never come here.

What each purpose must respect is data (PURPOSES), so a new kind of message says which rules
apply instead of growing its own copy of them.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from bot import channels, statuses
from bot.contact import window
from bot.contact.hours import earliest_slot, zones_for
from bot.contact.rules import load_rules, rule_for
from bot.models import Conversation, ScheduledMessage, TemplateKey

WHATSAPP, SMS = channels.WHATSAPP, channels.SMS

# The rules each purpose must respect.
#   wrong_number: the number is not the debtor's
#   account:      the debt is paused (disputed, claim under review) or settled
#   agent_held:   an agent holds the debtor's conversation
#   opt_out:      the debtor opted out of the channel
#   window:       WhatsApp outside the 24-hour window only as an approved template
#   schedule:     the country's hours, holidays and caps (deferred, never dropped)
#   sms_rule:     falling back from WhatsApp to SMS needs the country rule's consent
#   sms_fallback: this message is SMS standing in for a refused WhatsApp one (same consent)
PURPOSES = {
    # Reminders and campaigns: everything.
    "reminder": frozenset(
        ("wrong_number", "account", "agent_held", "opt_out", "window", "schedule", "sms_rule")
    ),
    # A receipt for the debtor's own action (a payment's thank-you): at once, but not to a
    # number that is not theirs, an opted-out channel, or while an agent speaks for us.
    "receipt": frozenset(("wrong_number", "agent_held", "opt_out", "window")),
    # Something the debtor asked for just now (a fresh payment link from an expired one).
    "requested": frozenset(("wrong_number", "opt_out", "window")),
    # An agent's own message to the conversation they hold.
    "agent": frozenset(("window",)),
    # A reminder WhatsApp refused (63016) sent again by SMS; the send-time check that every
    # reminder passes applies the hours and caps.
    "fallback": frozenset(("wrong_number", "opt_out", "sms_fallback")),
}
BLOCKED_ACCOUNT = {s: s for s in statuses.Account.PAUSED}


@dataclass
class Decision:
    action: str  # send / defer / suppress
    reason: str | None = None
    channel: str | None = None
    content_sid: str | None = None  # set when WhatsApp needs the approved template
    next_at: datetime | None = None

    @property
    def allowed(self):
        return self.action == "send"


@dataclass
class Facts:
    """What the decision knows about one debtor (see Context.facts)."""

    debtor_id: int
    phone: str
    country: str
    timezone: str | None
    opted_out_whatsapp_at: datetime | None = None
    opted_out_sms_at: datetime | None = None
    wrong_number_at: datetime | None = None
    agent_held: bool = False
    last_inbound: dict = field(default_factory=dict)  # channel -> last debtor message (UTC)
    contacts: list = field(default_factory=list)  # proactive contacts of the last 7 days

    def opted_out(self, channel):
        return (
            self.opted_out_whatsapp_at if channel == WHATSAPP else self.opted_out_sms_at
        ) is not None


@dataclass
class Context:
    """Rules, approved templates and the debtors' conversations and recent contacts, loaded in
    a few queries for a batch of debtors (one for a single message)."""

    rules: dict
    content_sids: dict  # template key -> Content SID
    conversations: dict = field(default_factory=dict)  # debtor id -> [(channel, state, last in)]
    contacts: dict = field(default_factory=lambda: defaultdict(list))  # debtor id -> [UTC]

    @classmethod
    def load(cls, session):
        sids = dict(
            session.execute(
                select(TemplateKey.key, TemplateKey.content_sid).where(
                    TemplateKey.content_sid.isnot(None)
                )
            ).all()
        )
        return cls(rules=load_rules(session), content_sids=sids)

    def load_debtors(self, session, debtor_ids, now, exclude_reminders=()):
        """Load conversations and recent contacts of these debtors (one batch). Contacts made
        by the reminders in exclude_reminders are left out (a reminder rechecked at send time
        is not its own contact)."""
        ids = list(set(debtor_ids))
        self.conversations = defaultdict(list)
        self.contacts = defaultdict(list)
        if not ids:
            return self
        for row in session.execute(
            select(
                Conversation.debtor_id,
                Conversation.channel,
                Conversation.state,
                Conversation.last_inbound_at,
            ).where(Conversation.debtor_id.in_(ids))
        ).all():
            self.conversations[row.debtor_id].append(row)
        stmt = select(ScheduledMessage.debtor_id, ScheduledMessage.contacted_at).where(
            ScheduledMessage.debtor_id.in_(ids),
            ScheduledMessage.contacted_at >= now - timedelta(days=7),
        )
        if exclude_reminders:
            stmt = stmt.where(ScheduledMessage.id.notin_(list(exclude_reminders)))
        for debtor_id, at in session.execute(stmt).all():
            self.contacts[debtor_id].append(at)
        return self

    def rule_for(self, country):
        return rule_for(self.rules, country)

    def contacted(self, debtor_id, at):
        """Count a contact just let through, so the next message in the batch sees it."""
        self.contacts[debtor_id].append(at)

    def facts(self, debtor):
        """Facts about a debtor (a Debtor row or a row with the same columns, with debtor_id or
        id) from what load_debtors loaded."""
        debtor_id = getattr(debtor, "debtor_id", None) or debtor.id
        conversations = self.conversations.get(debtor_id, ())
        last_inbound = {}
        for c in conversations:
            if c.last_inbound_at and (
                c.channel not in last_inbound or c.last_inbound_at > last_inbound[c.channel]
            ):
                last_inbound[c.channel] = c.last_inbound_at
        return Facts(
            debtor_id=debtor_id,
            phone=debtor.phone,
            country=debtor.country,
            timezone=debtor.timezone,
            opted_out_whatsapp_at=debtor.opted_out_whatsapp_at,
            opted_out_sms_at=debtor.opted_out_sms_at,
            wrong_number_at=debtor.wrong_number_at,
            agent_held=any(c.state == statuses.Conversation.AGENT for c in conversations),
            last_inbound=last_inbound,
            contacts=self.contacts.get(debtor_id, []),
        )


def _blocked(checks, facts, account_status):
    """The rule that forbids any message of this purpose whatever the channel, or None."""
    if "wrong_number" in checks and facts.wrong_number_at is not None:
        return "wrong_number"
    if "account" in checks:
        if account_status in BLOCKED_ACCOUNT:
            return BLOCKED_ACCOUNT[account_status]
        if account_status in statuses.Account.SETTLED:
            return "account_closed"
    if "agent_held" in checks and facts.agent_held:
        return "agent_held"
    return None


def _on_channel(ctx, checks, facts, channel, now, template_key):
    """(content_sid, None) when the channel can carry the message now, else (None, reason)."""
    if "opt_out" in checks and facts.opted_out(channel):
        return None, f"opted_out_{channel}"
    if "sms_fallback" in checks and channel == SMS and not ctx.rule_for(facts.country).sms_fallback:
        return None, "no_sms_fallback"
    if "window" in checks and not window.is_open(channel, facts.last_inbound.get(channel), now):
        sid = ctx.content_sids.get(template_key) if template_key else None
        if not sid:
            return None, "no_approved_template"
        return sid, None
    return None, None


def decide(ctx, facts, now, purpose, channels_in_order, template_key=None, account_status=None):
    """The decision for a message of purpose to the debtor, on the first of channels_in_order
    that can carry it."""
    checks = PURPOSES[purpose]
    reason = _blocked(checks, facts, account_status)
    if reason:
        return Decision("suppress", reason)
    rule = ctx.rule_for(facts.country)
    refusals = []
    chosen = None
    for channel in channels_in_order:
        if refusals and channel == SMS and "sms_rule" in checks:
            # Falling back to SMS: the country rule must allow it (or WhatsApp was refused).
            if not (rule.sms_fallback or facts.opted_out(WHATSAPP)):
                continue
        content_sid, refused = _on_channel(ctx, checks, facts, channel, now, template_key)
        if refused is None:
            chosen = (channel, content_sid)
            break
        refusals.append(refused)
    if chosen is None:
        return Decision("suppress", _refusal(refusals, facts))
    channel, content_sid = chosen
    if "schedule" not in checks:
        return Decision("send", None, channel, content_sid)
    zones = zones_for(facts.phone, facts.timezone, rule)
    moment, first_reason = earliest_slot(rule, facts.country, zones, facts.contacts, now)
    if moment is None:
        return Decision("suppress", first_reason)
    if moment == now:
        return Decision("send", None, channel, content_sid)
    return Decision("defer", first_reason, channel, content_sid, next_at=moment)


def _refusal(refusals, facts):
    if len(refusals) == 1:
        return refusals[0]
    if facts.opted_out(WHATSAPP) and facts.opted_out(SMS):
        return "opted_out"
    return "opted_out" if facts.opted_out(WHATSAPP) else "no_approved_template"


def may_contact(session, debtor, channel, now, purpose, template_key=None, account_status=None):
    """The decision for one message to debtor on one channel (loads what it needs)."""
    ctx = Context.load(session).load_debtors(session, [debtor.id], now)
    return decide(ctx, ctx.facts(debtor), now, purpose, (channel,), template_key, account_status)
