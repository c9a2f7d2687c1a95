"""Per-channel consent with its evidence (when, how, the words or document), from imports, the
chat or staff. The register is append-only: the latest record of a channel is its state. Where
a pack requires consent (Colombia), the contact decision uses only granted channels."""

from datetime import datetime

from sqlalchemy import select

from bot import audit
from bot.clock import utcnow
from bot.contact.preferences import ALL_CHANNELS, OPT_OUT_FIELDS, opted_out_at
from bot.models import ConsentRecord

METHODS = ("import", "chat", "keyword", "agent", "console")


class ConsentError(ValueError):
    """A consent record that cannot be stored (unknown channel, no evidence, a future date)."""


def latest(session, debtor_ids):
    """{debtor id: {channel: latest ConsentRecord-like row (action, at)}}."""
    ids = list(set(debtor_ids))
    out = {}
    if not ids:
        return out
    rows = session.execute(
        select(
            ConsentRecord.debtor_id, ConsentRecord.channel, ConsentRecord.action, ConsentRecord.at
        )
        .where(ConsentRecord.debtor_id.in_(ids))
        .order_by(ConsentRecord.at, ConsentRecord.id)
    ).all()
    for row in rows:
        out.setdefault(row.debtor_id, {})[row.channel] = row
    return out


def granted_channels(session, debtor_ids):
    """{debtor id: frozenset of channels whose latest record is a grant}."""
    return {
        debtor_id: frozenset(ch for ch, row in by_channel.items() if row.action == "granted")
        for debtor_id, by_channel in latest(session, debtor_ids).items()
    }


def record(
    session,
    debtor,
    channel,
    action,
    at,
    method,
    evidence,
    actor,
    message_id=None,
    now=None,
):
    """Store a grant or a withdrawal with its evidence; audited. A grant newer than an opt-out
    lifts it (the debtor asked again); an older one (an import of the original contract) does
    not. None when the same record is already the channel's state (imports run twice)."""
    now = now or utcnow()
    if channel not in ALL_CHANNELS:
        raise ConsentError(f"channel must be one of {', '.join(ALL_CHANNELS)}")
    if action not in ("granted", "revoked"):
        raise ConsentError("action must be granted or revoked")
    if method not in METHODS:
        raise ConsentError(f"method must be one of {', '.join(METHODS)}")
    evidence = " ".join((evidence or "").split())[:2000]
    if not evidence:
        raise ConsentError("consent needs its evidence: the words, form or document")
    if not isinstance(at, datetime):
        raise ConsentError("consent needs the moment it was given")
    if at > now:
        raise ConsentError("consent cannot be dated in the future")
    current = latest(session, [debtor.id]).get(debtor.id, {}).get(channel) if debtor.id else None
    if current is not None and current.action == action and current.at == at:
        return None
    row = ConsentRecord(
        debtor_id=debtor.id,
        channel=channel,
        action=action,
        scope="channel",
        at=at,
        method=method,
        evidence=evidence,
        message_id=message_id,
        recorded_by=actor,
        recorded_at=now,
    )
    session.add(row)
    stopped = opted_out_at(debtor, channel)
    if action == "granted" and stopped is not None and at > stopped:
        setattr(debtor, OPT_OUT_FIELDS[channel], None)
    elif action == "revoked" and stopped is None:
        setattr(debtor, OPT_OUT_FIELDS[channel], at)
    audit.record(
        session,
        actor,
        f"consent.{action}",
        debtor,
        {"channel": channel, "method": method, "at": at.isoformat()},
    )
    return row


def grant_in_chat(session, conversation, words, message_id=None, now=None):
    """The debtor agreed in the chat to messages on this conversation's channel."""
    debtor = conversation.debtor
    if debtor is None:
        return None
    now = now or utcnow()
    return record(
        session,
        debtor,
        conversation.channel,
        "granted",
        now,
        "chat",
        words,
        f"debtor:{debtor.id}",
        message_id=message_id,
        now=now,
    )


def needs_asking(rule, debtor, channel, latest_by_channel):
    """True when the rule needs consent and the debtor has neither granted nor refused this
    channel (we ask once, in the chat)."""
    return (
        rule.consent_required
        and debtor is not None
        and channel not in latest_by_channel
        and opted_out_at(debtor, channel) is None
    )
