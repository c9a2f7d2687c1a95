"""The one contact decision: may we write to this debtor, on this channel, now, for this purpose?

Every message the bot or an agent starts asks here: reminders and campaigns when they are
dispatched and again when they are sent, thank-yous and fresh payment links, agents' messages.
The answer is send (on which channel, free text or an approved template, in which variant),
defer (to the next moment the law, the creditor's policy and the debtor's situation allow) or
suppress (a rule forbids it), always with a reason and the provision behind it.
Replies to the debtor's own message are answers, not contacts: they never come here.

What each purpose must respect is data (PURPOSES), so a new kind of message says which rules
apply instead of growing its own copy of them.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import select

from bot import channels, statuses
from bot.clock import utcnow
from bot.contact import consent, window
from bot.contact.hours import earliest_slot, zones_for
from bot.contact.rules import load_rules
from bot.models import Conversation, ScheduledMessage, TemplateKey

WHATSAPP, SMS = channels.WHATSAPP, channels.SMS

# The rules each purpose must respect.
#   wrong_number: the number is not the debtor's
#   account:      the debt is paused (disputed, claim under review) or settled
#   agent_held:   an agent holds the debtor's conversation (reminders wait for the hand-back)
#   opt_out:      the debtor opted out of the channel
#   consent:      where the pack requires it, only channels the debtor authorised
#   window:       WhatsApp outside the 24-hour window only as an approved template
#   schedule:     the pack's and the policy's hours, holidays and caps (deferred, not dropped)
#   discreet:     until the right party is confirmed on this number, the discreet variant
#   sms_rule:     falling back from WhatsApp to SMS needs the creditor policy's consent
#   sms_fallback: this message is SMS standing in for a refused WhatsApp one (same consent)
PURPOSES = {
    # Reminders and campaigns: everything.
    "reminder": frozenset(
        (
            "wrong_number",
            "account",
            "agent_held",
            "opt_out",
            "consent",
            "window",
            "schedule",
            "discreet",
            "sms_rule",
        )
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
    "fallback": frozenset(("wrong_number", "opt_out", "consent", "sms_fallback")),
}
BLOCKED_ACCOUNT = {s: s for s in statuses.Account.PAUSED}
# An agent-held reminder is looked at again this often even if no hand-back is announced.
AGENT_RECHECK = timedelta(hours=1)
# After a stop on one channel the debtor is asked whether every channel is meant; meanwhile
# (until answered, for at most this long) no reminder goes on the other channels either.
SCOPE_QUESTION_OPEN = timedelta(hours=24)
# The discreet variants of a reminder: no amount, no reference, an invitation to verify.
DISCREET = "reminder.discreet"
DISCREET_NAMED = "reminder.discreet.named"
DISCREET_LOCKED = "reminder.discreet.locked"
DISCREET_KEYS = (DISCREET, DISCREET_NAMED, DISCREET_LOCKED)
# The provision behind each reason a schedule gives.
REASON_SETTING = {
    "outside_hours": "hours",
    "closed_day": "hours",
    "no_allowed_hours": "hours",
    "holiday": "skip_holidays",
    "cap_day": "max_per_day",
    "cap_week": "max_per_week",
    "min_gap": "min_gap_hours",
    "channel_week": "max_channels_per_week",
}


@dataclass
class Decision:
    action: str  # send / defer / suppress
    reason: str | None = None
    channel: str | None = None
    content_sid: str | None = None  # set when WhatsApp needs the approved template
    next_at: datetime | None = None
    template_key: str | None = None  # the key to send (the discreet variant, when it must be)
    rule: str | None = None  # the provision behind the reason (law:co.hours, policy:CO, ...)
    zones: tuple = ()  # every zone the hours were checked in
    pack: str | None = None
    opt_out_line: bool = False  # the text must carry opt-out instructions (US)

    @property
    def allowed(self):
        return self.action == "send"


@dataclass
class Facts:
    """What the decision knows about one debtor (see Context.facts)."""

    debtor_id: int | None
    phone: str
    country: str
    timezone: str | None  # the address's zone
    region: str | None = None
    opted_out_whatsapp_at: datetime | None = None
    opted_out_sms_at: datetime | None = None
    opted_out_email_at: datetime | None = None
    wrong_number_at: datetime | None = None
    agent_held: bool = False
    last_inbound: dict = field(default_factory=dict)  # channel -> last debtor message (UTC)
    contacts: list = field(default_factory=list)  # [(UTC, channel)] of the last 7 days
    consented: frozenset = frozenset()  # channels with a standing grant
    scope_asked_at: datetime | None = None  # "this channel or all?" asked then
    scope_answered_at: datetime | None = None
    verified_at: datetime | None = None  # last verification on this number
    locked_at: datetime | None = None  # last verification lock on this number

    def opted_out(self, channel):
        return getattr(self, f"opted_out_{channel}_at", None) is not None

    @property
    def right_party(self):
        """Verified at least once on this number, and not locked since."""
        return self.verified_at is not None and (
            self.locked_at is None or self.verified_at > self.locked_at
        )


@dataclass
class Context:
    """Rules, approved templates and the debtors' conversations, consents and recent contacts,
    loaded in a few queries for a batch of debtors (one for a single message)."""

    rules: object
    content_sids: dict  # template key -> Content SID
    conversations: dict = field(default_factory=dict)  # debtor id -> [conversation rows]
    contacts: dict = field(default_factory=lambda: defaultdict(list))  # id -> [(UTC, channel)]
    consents: dict = field(default_factory=dict)  # debtor id -> frozenset of channels
    creditor_named: bool = False  # the creditor opted in to be named in first contacts

    @classmethod
    def load(cls, session, now=None):
        sids = dict(
            session.execute(
                select(TemplateKey.key, TemplateKey.content_sid).where(
                    TemplateKey.content_sid.isnot(None)
                )
            ).all()
        )
        named = has_app_context() and bool(
            current_app.config.get("CREDITOR_NAME")
            and current_app.config.get("FIRST_CONTACT_NAMES_CREDITOR")
        )
        day = (now or utcnow()).date()
        return cls(rules=load_rules(session, day), content_sids=sids, creditor_named=named)

    def load_debtors(self, session, debtor_ids, now, exclude_reminders=()):
        """Load conversations, consents and recent contacts of these debtors (one batch).
        Contacts made by the reminders in exclude_reminders are left out (a reminder rechecked
        at send time is not its own contact)."""
        ids = list(set(debtor_ids))
        self.conversations = defaultdict(list)
        self.contacts = defaultdict(list)
        self.consents = {}
        if not ids:
            return self
        for row in session.execute(
            select(
                Conversation.debtor_id,
                Conversation.channel,
                Conversation.address,
                Conversation.state,
                Conversation.last_inbound_at,
                Conversation.verified_at,
                Conversation.locked_at,
            ).where(Conversation.debtor_id.in_(ids))
        ).all():
            self.conversations[row.debtor_id].append(row)
        stmt = select(
            ScheduledMessage.debtor_id, ScheduledMessage.contacted_at, ScheduledMessage.channel
        ).where(
            ScheduledMessage.debtor_id.in_(ids),
            ScheduledMessage.contacted_at >= now - timedelta(days=8),
        )
        if exclude_reminders:
            stmt = stmt.where(ScheduledMessage.id.notin_(list(exclude_reminders)))
        for debtor_id, at, channel in session.execute(stmt).all():
            self.contacts[debtor_id].append((at, channel))
        self.consents = consent.granted_channels(session, ids)
        return self

    def rule_for(self, country, region=None):
        return self.rules.get(country, region)

    def contacted(self, debtor_id, at, channel=None):
        """Count a contact just let through, so the next message in the batch sees it."""
        self.contacts[debtor_id].append((at, channel))

    def facts(self, debtor):
        """Facts about a debtor (a Debtor row or a row with the same columns, with debtor_id or
        id) from what load_debtors loaded."""
        debtor_id = getattr(debtor, "debtor_id", None) or debtor.id
        conversations = self.conversations.get(debtor_id, ())
        last_inbound = {}
        verified_at = locked_at = None
        for c in conversations:
            if c.last_inbound_at and (
                c.channel not in last_inbound or c.last_inbound_at > last_inbound[c.channel]
            ):
                last_inbound[c.channel] = c.last_inbound_at
            if c.address != debtor.phone:
                continue  # verified on a number the debtor no longer has
            if c.verified_at and (verified_at is None or c.verified_at > verified_at):
                verified_at = c.verified_at
            if c.locked_at and (locked_at is None or c.locked_at > locked_at):
                locked_at = c.locked_at
        return Facts(
            debtor_id=debtor_id,
            phone=debtor.phone,
            country=debtor.country,
            timezone=debtor.timezone,
            region=getattr(debtor, "region", None),
            opted_out_whatsapp_at=debtor.opted_out_whatsapp_at,
            opted_out_sms_at=debtor.opted_out_sms_at,
            opted_out_email_at=getattr(debtor, "opted_out_email_at", None),
            wrong_number_at=debtor.wrong_number_at,
            agent_held=any(c.state == statuses.Conversation.AGENT for c in conversations),
            last_inbound=last_inbound,
            contacts=self.contacts.get(debtor_id, []),
            consented=self.consents.get(debtor_id, frozenset()),
            scope_asked_at=getattr(debtor, "opt_out_scope_asked_at", None),
            scope_answered_at=getattr(debtor, "opt_out_scope_answered_at", None),
            verified_at=verified_at,
            locked_at=locked_at,
        )

    def discreet_key(self, facts):
        if facts.locked_at is not None:
            return DISCREET_LOCKED
        return DISCREET_NAMED if self.creditor_named else DISCREET


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


def scope_open(asked, answered, now=None):
    """True when "this channel or all?" was asked less than a day ago and not answered."""
    now = now or utcnow()
    if asked is None or now - asked >= SCOPE_QUESTION_OPEN:
        return False
    return answered is None or answered < asked


def _scope_open(facts, now):
    if not scope_open(facts.scope_asked_at, facts.scope_answered_at, now):
        return False
    return facts.opted_out(WHATSAPP) or facts.opted_out(SMS)


def _on_channel(ctx, checks, facts, rule, channel, now, template_key):
    """(content_sid, None) when the channel can carry the message now, else (None, reason)."""
    if "opt_out" in checks and facts.opted_out(channel):
        return None, f"opted_out_{channel}"
    if "consent" in checks and rule.consent_required and channel not in facts.consented:
        return None, f"no_consent_{channel}"
    if "sms_fallback" in checks and channel == SMS and not rule.sms_fallback:
        return None, "no_sms_fallback"
    if "window" in checks and not window.is_open(channel, facts.last_inbound.get(channel), now):
        sid = ctx.content_sids.get(template_key) if template_key else None
        if not sid:
            return None, "no_approved_template"
        return sid, None
    return None, None


def _channel_order(rule, facts, channels_in_order, now):
    """Where one channel a week is the law, the channel already used this week goes first."""
    if not rule.max_channels_per_week or not facts.contacts:
        return channels_in_order
    week = sorted(
        (at, ch) for at, ch in facts.contacts if ch and at is not None and now - at < timedelta(7)
    )
    if not week:
        return channels_in_order
    used = week[-1][1]
    return tuple(sorted(channels_in_order, key=lambda ch: ch != used))


def decide(ctx, facts, now, purpose, channels_in_order, template_key=None, account_status=None):
    """The decision for a message of purpose to the debtor, on the first of channels_in_order
    that can carry it."""
    checks = PURPOSES[purpose]
    rule = ctx.rule_for(facts.country, facts.region)
    base = {"pack": rule.pack, "opt_out_line": rule.opt_out_line_required}
    reason = _blocked(checks, facts, account_status)
    if reason == "agent_held" and "schedule" in checks:
        # Not dropped: it waits for the agent to hand the conversation back.
        return Decision("defer", reason, next_at=now + AGENT_RECHECK, rule="agent", **base)
    if reason is None and "schedule" in checks and _scope_open(facts, now):
        # The debtor said stop and has not yet said whether every channel is meant.
        until = facts.scope_asked_at + SCOPE_QUESTION_OPEN
        return Decision("defer", "opt_out_scope_pending", next_at=until, rule="debtor", **base)
    if reason:
        return Decision(
            "suppress", reason, rule="debtor" if reason == "wrong_number" else "account", **base
        )
    if "discreet" in checks and template_key and not facts.right_party:
        template_key = ctx.discreet_key(facts)
    refusals = []
    chosen = None
    for channel in _channel_order(rule, facts, channels_in_order, now):
        if refusals and channel == SMS and "sms_rule" in checks:
            # Falling back to SMS: the policy must allow it (or WhatsApp was refused).
            if not (rule.sms_fallback or facts.opted_out(WHATSAPP)):
                continue
        content_sid, refused = _on_channel(ctx, checks, facts, rule, channel, now, template_key)
        if refused is None:
            chosen = (channel, content_sid)
            break
        refusals.append(refused)
    if chosen is None:
        reason = _refusal(refusals, facts)
        source = rule.source("consent_required") if reason.startswith("no_consent") else None
        return Decision("suppress", reason, template_key=template_key, rule=source, **base)
    channel, content_sid = chosen
    if "schedule" not in checks:
        return Decision("send", None, channel, content_sid, template_key=template_key, **base)
    zones = zones_for(facts.phone, facts.timezone, rule)
    moment, first_reason = earliest_slot(rule, zones, facts.contacts, now, channel)
    source = rule.source(REASON_SETTING.get(first_reason, "")) if first_reason else None
    common = dict(template_key=template_key, rule=source, zones=zones, **base)
    if moment is None:
        return Decision("suppress", first_reason, channel, **common)
    if moment == now:
        return Decision("send", None, channel, content_sid, **common)
    return Decision("defer", first_reason, channel, content_sid, next_at=moment, **common)


def _refusal(refusals, facts):
    if len(refusals) == 1:
        return refusals[0]
    if facts.opted_out(WHATSAPP) and facts.opted_out(SMS):
        return "opted_out"
    consent_refusals = [r for r in refusals if r.startswith("no_consent")]
    if len(consent_refusals) == len(refusals):
        return "no_consent"
    return "opted_out" if facts.opted_out(WHATSAPP) else "no_approved_template"


def may_contact(session, debtor, channel, now, purpose, template_key=None, account_status=None):
    """The decision for one message to debtor on one channel (loads what it needs)."""
    ctx = Context.load(session, now).load_debtors(session, [debtor.id], now)
    return decide(ctx, ctx.facts(debtor), now, purpose, (channel,), template_key, account_status)
