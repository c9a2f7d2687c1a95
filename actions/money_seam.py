"""The seam to issue 13's money services (the ledger with a balance breakdown, partial payments;
settlements), which another branch builds. The chat's flows call only these functions; each
says which service it stands for. On this branch each does the nearest thing main can do (a
person finishes it); when the services land, each body becomes the one call named in it.
"""

from bot.money import money_var


def breakdown_messages(session, account, today):
    """What the balance is made of, as template messages; None where no breakdown service
    exists (the chat then tells the balance and asks a person to explain it).

    With the ledger: `bot.ledger.breakdown.messages(session, account, today)`."""
    return None


def partial_minimum(session, account, today):
    """The smallest partial payment the policy accepts, in minor units.

    With the ledger: `bot.debts.partial.minimum(session, account, today)`. Main has no such
    policy field: one peso, dollar or sol (100 minor units, or the whole balance if less)."""
    return min(account.balance_minor, 100)


def partial_payment(session, account, amount_minor, today):
    """The answer to "quiero abonar 50 mil": a template message, or None where no partial-link
    service exists (the chat then hands the amount to a person, who sends the link).

    With the ledger: `bot.debts.partial.partial_payment(session, account, amount_minor, today)`
    (a link for that amount with what remains; the minimum when it is too small; the whole
    balance's link when it covers it). A disputed account may still receive a payment of the
    part the debtor recognises: the service must accept one under review (issue 16)."""
    return None


def partial_by_agent(account, amount_minor):
    """The message for a partial payment a person completes."""
    return {
        "template": "partial.by_agent",
        "vars": {"amount": money_var(amount_minor, account.currency)},
    }
