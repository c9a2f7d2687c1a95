"""The consent register: grants and withdrawals per channel with their evidence."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.clock import utcnow
from bot.contact import consent, preferences
from bot.models import AuditEvent, ConsentRecord, Debtor


@pytest.fixture
def camila(db, demo_debtors):
    debtor = db.execute(select(Debtor).where(Debtor.phone == "+573001234567")).scalar_one()
    db.execute(ConsentRecord.__table__.delete())  # start without the demo file's consent
    db.commit()
    return debtor


def test_grants_and_withdrawals_are_the_state_with_their_evidence(db, camila):
    at = datetime(2025, 5, 1, 14, 0)
    consent.record(db, camila, "whatsapp", "granted", at, "console", "signed form 88", "admin:1")
    consent.record(db, camila, "email", "granted", at, "import", "contract", "import")
    db.commit()
    assert consent.granted_channels(db, [camila.id]) == {camila.id: {"whatsapp", "email"}}
    consent.record(
        db, camila, "email", "revoked", at + timedelta(days=1), "agent", "call", "agent:2"
    )
    db.commit()
    assert consent.granted_channels(db, [camila.id])[camila.id] == {"whatsapp"}
    assert camila.opted_out_email_at == at + timedelta(days=1)
    actions = db.execute(
        select(AuditEvent.action).where(AuditEvent.actor.in_(("admin:1", "agent:2")))
    ).scalars()
    assert sorted(actions) == ["consent.granted", "consent.revoked"]


def test_a_newer_grant_lifts_an_opt_out_and_an_older_one_does_not(db, camila):
    stop = utcnow() - timedelta(days=10)
    preferences.record_opt_out(db, camila, "sms", "debtor", stop, "no mas sms")
    consent.record(
        db, camila, "sms", "granted", stop - timedelta(days=400), "import", "contract", "import"
    )
    assert camila.opted_out_sms_at == stop  # the contract is older than the stop
    consent.record(
        db, camila, "sms", "granted", stop + timedelta(days=1), "chat", "si, por sms", "debtor:1"
    )
    assert camila.opted_out_sms_at is None


def test_the_same_record_twice_is_stored_once(db, camila):
    at = datetime(2025, 5, 1)
    assert consent.record(db, camila, "sms", "granted", at, "import", "c", "import") is not None
    db.flush()
    assert consent.record(db, camila, "sms", "granted", at, "import", "c", "import") is None


@pytest.mark.parametrize(
    "channel, action, at, method, evidence, message",
    [
        ("fax", "granted", datetime(2025, 1, 1), "chat", "x", "channel"),
        ("sms", "maybe", datetime(2025, 1, 1), "chat", "x", "action"),
        ("sms", "granted", datetime(2025, 1, 1), "telepathy", "x", "method"),
        ("sms", "granted", datetime(2025, 1, 1), "chat", "  ", "evidence"),
        ("sms", "granted", "yesterday", "chat", "x", "moment"),
        ("sms", "granted", datetime(2999, 1, 1), "chat", "x", "future"),
    ],
)
def test_a_record_without_proof_is_refused(
    db, camila, channel, action, at, method, evidence, message
):
    with pytest.raises(consent.ConsentError, match=message):
        consent.record(db, camila, channel, action, at, method, evidence, "admin:1")


def test_a_stop_everywhere_keeps_the_words_on_every_channel(db, camila):
    stopped = preferences.record_opt_out_all(db, camila, "debtor", words="  no me escriban   mas ")
    assert stopped == ["whatsapp", "sms", "email"]
    assert preferences.opted_out_everywhere(camila)
    rows = db.execute(select(ConsentRecord)).scalars().all()
    assert {(r.channel, r.scope, r.evidence) for r in rows} == {
        (ch, "all", "no me escriban mas") for ch in ("whatsapp", "sms", "email")
    }
    assert preferences.record_opt_out_all(db, camila, "debtor") == []
