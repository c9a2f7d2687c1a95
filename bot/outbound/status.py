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


# The statuses each status may move a message from (every lower rank), computed once.
_LOWER = {
    status: tuple(name for name, other in Out.RANK.items() if other < rank)
    for status, rank in Out.RANK.items()
}


def apply_status(session, sid, status, error_code=None):
    """Apply a delivery-status callback; return False when the SID is not (yet) known.

    Twilio posts about four of these per reply, so the usual case is one conditional UPDATE
    keyed by the SID, with no ORM load of the message: the status moves forward or nothing
    happens. Only when nothing moved is the SID looked up (known: a late or repeated callback;
    unknown: a callback that beat the send's own response, held in Redis)."""
    status = (status or "").lower()
    if status in _LOWER:
        where = (Message.provider_sid == sid, Message.direction == statuses.OUT)
        if _advance(session, where, status, error_code):
            session.commit()
            if status in Out.FINAL_FAILURES:
                row = session.execute(select(Message).where(*where)).scalar_one()
                _failed(session, row, error_code)
            return True
    stmt = select(Message.id).where(Message.provider_sid == sid)
    if session.execute(stmt).first() is not None:
        session.commit()
        return True
    hold_early_status(sid, status, error_code)
    session.rollback()
    row = session.execute(select(Message).where(Message.provider_sid == sid)).scalar_one_or_none()
    if row is not None:  # the sender recorded the SID meanwhile: drain for it
        apply_early_status(session, row)
    return False


def _advance(session, where, status, error_code):
    """Move the message matched by where to status only from a lower rank, in one conditional
    UPDATE: two callbacks racing on two threads cannot move it backwards. True if it moved."""
    values = {"status": status, "updated_at": utcnow()}
    if error_code:
        values["error_code"] = str(error_code)[:16]
    result = session.execute(
        update(Message)
        .where(*where, Message.status.in_(_LOWER[status]))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


def _apply(session, row, status, error_code):
    """Apply one held callback to row (see _advance)."""
    status = (status or "").lower()
    if status not in _LOWER:
        session.commit()
        return
    moved = _advance(session, (Message.id == row.id,), status, error_code)
    session.commit()
    session.expire(row)
    if moved and status in Out.FINAL_FAILURES:
        _failed(session, row, error_code)


def _failed(session, row, error_code):
    # A reminder refused for the 24-hour window falls back to SMS; anything else goes to
    # the agents (bot.create_app wires the receivers).
    hooks.delivery_failed.first(session, row, str(error_code or ""))
    session.commit()
