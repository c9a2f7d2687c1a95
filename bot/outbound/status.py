"""Delivery-status callbacks: a message's status only moves forward, whatever order Twilio's
callbacks arrive in, and a callback that beats the send's own response is held and applied."""

from sqlalchemy import select, update

from bot import hooks, statuses
from bot.clock import utcnow
from bot.models import Message
from bot.redis import redis_conn

Out = statuses.Outbound
# WhatsApp refuses free text outside the 24-hour window; the reminder path falls back or
# suppresses, so this is not a conversation for the agents.
OUTSIDE_WINDOW = "63016"


def _early_key(sid):
    return f"status:early:{sid}"


def hold_early_status(sid, status, error_code=None):
    """Keep a callback that beat the API response (the SID is not recorded yet) for an hour."""
    key = _early_key(sid)
    redis = redis_conn()
    redis.rpush(key, f"{status}|{error_code or ''}")
    redis.expire(key, 3600)


def apply_early_status(session, row):
    """Apply callbacks held for row's SID. Both the sender and a late callback drain the list
    (LPOP is atomic), so a callback racing the SID's commit is applied by one side or the other.
    """
    redis = redis_conn()
    while (item := redis.lpop(_early_key(row.provider_sid))) is not None:
        status, _, error_code = item.decode().partition("|")
        _apply(session, row, status, error_code or None)


def apply_status(session, sid, status, error_code=None):
    """Apply a delivery-status callback; return False when the SID is not (yet) known."""
    stmt = select(Message).where(Message.provider_sid == sid)
    row = session.execute(stmt).scalar_one_or_none()
    if row is None:
        hold_early_status(sid, status, error_code)
        session.rollback()
        row = session.execute(stmt).scalar_one_or_none()
        if row is not None:  # the sender recorded the SID meanwhile: drain for it
            apply_early_status(session, row)
        return False
    if row.direction == statuses.OUT:
        _apply(session, row, status, error_code)
    return True


def _apply(session, row, status, error_code):
    """Move row to status only from a lower rank, in one conditional UPDATE: two callbacks
    racing on two threads cannot move it backwards."""
    status = (status or "").lower()
    rank = Out.RANK.get(status)
    if rank is None:
        session.commit()
        return
    lower = [name for name, other in Out.RANK.items() if other < rank]
    values = {"status": status, "updated_at": utcnow()}
    if error_code:
        values["error_code"] = str(error_code)[:16]
    result = session.execute(
        update(Message)
        .where(Message.id == row.id, Message.status.in_(lower))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.expire(row)
    if result.rowcount and status in Out.FINAL_FAILURES:
        # A reminder refused for the 24-hour window falls back to SMS; anything else goes to
        # the agents (bot.create_app wires the receivers).
        hooks.delivery_failed.first(session, row, str(error_code or ""))
        session.commit()
