"""Hand-built histories for the metric tests: rows written as the services would leave them."""

from datetime import date, datetime, timedelta

from sqlalchemy import select

from bot.models import (
    Account,
    AuditEvent,
    Conversation,
    Debtor,
    Message,
    Payment,
    Promise,
    ScheduledMessage,
)


class History:
    def __init__(self, db):
        self.db = db
        self.count = 0

    def debtor(self, name, amount, due, created, label=None, currency="COP", country="CO"):
        self.count += 1
        debtor = Debtor(
            full_name=name,
            phone=f"+5730000000{self.count:02d}",
            country=country,
            locale="es-CO",
            timezone="America/Bogota",
            id_secret_hash="x",
            id_secret_salt="y",
            segment=label,
            created_at=created,
        )
        account = Account(
            debtor=debtor,
            external_id=f"ACC-{self.count}",
            currency=currency,
            amount_due_minor=amount,
            balance_minor=amount,
            due_date=due,
            status="open",
            segment=label,
            created_at=created,
        )
        self.db.add_all([debtor, account])
        self.db.flush()
        return account

    def conversation(self, account, channel="whatsapp"):
        debtor = account.debtor
        found = self.db.execute(
            select(Conversation).where(
                Conversation.channel == channel, Conversation.address == debtor.phone
            )
        ).scalar_one_or_none()
        if found is None:
            found = Conversation(channel=channel, address=debtor.phone, debtor=debtor)
            self.db.add(found)
            self.db.flush()
        return found

    def contact(
        self, account, at, segment, key, channel="whatsapp", status="delivered", variant_id=None
    ):
        conv = self.conversation(account, channel)
        message = Message(
            conversation=conv, direction="out", status=status, template_key=key, created_at=at
        )
        self.db.add(message)
        self.db.flush()
        row = ScheduledMessage(
            debtor_id=account.debtor_id,
            account_id=account.id,
            step=f"due:{at.day}",
            ref_date=at.date(),
            segment=segment,
            template_key=key,
            due_at=at,
            expires_at=at + timedelta(days=3),
            status="sent",
            contacted_at=at,
            message_id=message.id,
            channel=channel,
            variant_id=variant_id,
        )
        self.db.add(row)
        self.db.flush()
        return row

    def reply(self, account, at, channel="whatsapp"):
        conv = self.conversation(account, channel)
        self.db.add(
            Message(conversation=conv, direction="in", status="processed", body="ok", created_at=at)
        )

    def verified(self, account, at, channel="whatsapp"):
        self.conversation(account, channel).verified_at = at

    def pay(self, account, at, amount, status="succeeded", surplus=0):
        self.count += 1
        payment = Payment(
            account_id=account.id,
            amount_minor=amount,
            currency=account.currency,
            provider="sandbox",
            provider_ref=f"ref-{self.count}",
            status=status,
            received_at=at,
            surplus_minor=surplus,
        )
        self.db.add(payment)
        return payment

    def promise(self, account, at, promised, status, amount=None, by="bot"):
        row = Promise(
            account_id=account.id,
            amount_minor=amount or account.amount_due_minor,
            promised_date=promised,
            status=status,
            created_by=by,
            created_at=at,
        )
        self.db.add(row)
        return row

    def audit(self, at, actor, action, conversation, data=None):
        self.db.add(
            AuditEvent(
                at=at,
                actor=actor,
                action=action,
                subject_type="conversations",
                subject_id=str(conversation.id),
                data=data or {},
            )
        )


def utc(day, hour=15):
    """A naive-UTC moment: 15:00 UTC is 10:00 in Bogotá, the same calendar day."""
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hour)


MARCH = [date(2026, 3, d) for d in range(1, 32)]
