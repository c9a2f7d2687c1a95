"""Every status a row can be in, in one place (the models' status columns hold these strings).

Use them through the module (`statuses.Account.COLLECTIBLE`), so they never shadow a model.
"""

# Message directions.
IN = "in"
OUT = "out"


class Inbound:
    RECEIVED = "received"  # stored; the worker has not answered it yet
    PROCESSED = "processed"
    FOR_AGENT = "for_agent"  # an agent holds the conversation: the bot stays silent
    FAILED = "failed"  # retries spent; the conversation went to the agents


class Outbound:
    PENDING = "pending"  # stored, not sent
    SENDING = "sending"  # handed to Twilio; the outcome is not known yet
    SUPPRESSED = "suppressed"  # never sent (an agent took over, the gate held it back)
    FAILED = "failed"
    UNDELIVERED = "undelivered"
    # Twilio's statuses in the order they can happen; a callback never moves a message back.
    RANK = {
        "pending": 0,
        "sending": 1,
        "accepted": 2,
        "scheduled": 2,
        "queued": 3,
        "sent": 4,
        "delivered": 5,
        "undelivered": 5,
        "failed": 5,
        "read": 6,
    }
    UNSENT = (PENDING, SENDING)
    FINAL_FAILURES = (UNDELIVERED, FAILED)


class Conversation:
    BOT = "bot"
    AGENT = "agent"  # an agent holds it
    CLOSED = "closed"  # the next debtor message opens it again with the bot


class Account:
    OPEN = "open"
    PLAN = "plan"  # on an installment plan
    DISPUTED = "disputed"  # paused until an agent decides
    CLAIM_REVIEW = "claim_review"  # "I already paid": paused until an agent checks
    PAID = "paid"
    CLOSED = "closed"  # a dispute was upheld
    # Reminders, offers, promises and links go only to these.
    COLLECTIBLE = (OPEN, PLAN)
    # Shown in the balance: owed, including debts paused while an agent reviews them.
    OWING = (OPEN, PLAN, DISPUTED, CLAIM_REVIEW)
    PAUSED = (DISPUTED, CLAIM_REVIEW)
    SETTLED = (PAID, CLOSED)


class Plan:
    ACTIVE = "active"
    COMPLETED = "completed"


class Installment:
    DUE = "due"
    LATE = "late"  # its due date passed unpaid (the daily accrual marks it)
    PAID = "paid"
    UNPAID = (DUE, LATE)


class Payment:
    SUCCEEDED = "succeeded"
    REVERSED = "reversed"  # bounced or charged back: its ledger entries were reversed


class Entry:
    """Ledger entry kinds: every amount that changes a balance is one of these."""

    CHARGE = "charge"  # the debt itself (the opening charge, a creditor's new charge)
    ADJUSTMENT = "adjustment"  # the creditor corrected the amount due (a re-import)
    FEE = "fee"  # a late fee, a plan fee
    INTEREST = "interest"
    PAYMENT = "payment"
    DISCOUNT = "discount"  # a pay-in-full discount
    WRITE_OFF = "write_off"  # forgiven: the rest of a settlement, an agent's write-off
    REFUND = "refund"  # money given back to the debtor (from the credit they hold)
    REVERSAL = "reversal"  # undoes one earlier entry exactly; history never changes
    ALL = (CHARGE, ADJUSTMENT, FEE, INTEREST, PAYMENT, DISCOUNT, WRITE_OFF, REFUND, REVERSAL)


class Bucket:
    """What part of the balance an entry moves."""

    PRINCIPAL = "principal"
    INTEREST = "interest"
    FEE = "fee"
    CREDIT = "credit"  # paid beyond what was owed: held for the debtor (negative = held)
    OWING = (FEE, INTEREST, PRINCIPAL)
    ALL = (PRINCIPAL, INTEREST, FEE, CREDIT)


class Settlement:
    ACTIVE = "active"  # agreed: paying its amount by its date closes the account
    PAID = "paid"
    EXPIRED = "expired"  # its date passed unpaid; what was paid stays paid
    CANCELLED = "cancelled"


class Promise:
    PENDING = "pending"
    KEPT = "kept"  # paid by its date
    BROKEN = "broken"  # its date passed unpaid


class Claim:
    OPEN = "open"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class Dispute:
    OPEN = "open"
    UPHELD = "upheld"
    REJECTED = "rejected"


class Checkout:
    OPEN = "open"
    PROCESSING = "processing"  # an asynchronous method is pending
    COMPLETED = "completed"
    EXPIRED = "expired"
    FAILED = "failed"


class Reminder:
    PLANNED = "planned"
    DEFERRED = "deferred"  # waits for the next allowed moment (due_at)
    QUEUED = "queued"  # rendered into a message; a send job has it
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"  # never sent; the reason says why
    WAITING = (PLANNED, DEFERRED)


class Experiment:
    RUNNING = "running"  # debtors are assigned and get their variant
    STOPPED = "stopped"  # everybody gets what the control gets
    PROMOTED = "promoted"  # everybody gets the winner


class ContactRequest:
    PENDING = "pending"  # waiting for an agent
    CONFIRMED = "confirmed"  # a new number now on file, or the call made
    DISMISSED = "dismissed"
