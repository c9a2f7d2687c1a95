"""Cross-domain reactions, registered in one place (bot.create_app wires them).

A domain announces that something happened (a payment was applied, a message failed) without
importing the domains that react to it, so dependencies keep pointing one way: payments do not
import reminders, delivery does not import conversations.
"""

import logging

log = logging.getLogger(__name__)


class Hook:
    """An ordered list of receivers called with the same arguments."""

    def __init__(self, name):
        self.name = name
        self.receivers = []

    def connect(self, receiver):
        if receiver not in self.receivers:  # create_app runs many times in one process (tests)
            self.receivers.append(receiver)
        return receiver

    def send(self, *args):
        """Call every receiver in order; return their results."""
        return [receiver(*args) for receiver in self.receivers]

    def first(self, *args):
        """Call receivers in order until one returns something true; return it (or None)."""
        for receiver in self.receivers:
            result = receiver(*args)
            if result:
                return result
        return None

    def send_guarded(self, session, *args):
        """Call every receiver; one that fails is logged and skipped, so a message that cannot
        be sent never undoes money received (the caller records what failed)."""
        failed = []
        for receiver in self.receivers:
            try:
                receiver(session, *args)
            except Exception:
                log.exception("%s receiver %s failed", self.name, receiver.__name__)
                failed.append(receiver.__name__)
        return failed


# (session, payment): a payment was applied to its account; cancel what it made pointless,
# thank the debtor. Runs inside the reconciling transaction.
payment_applied = Hook("payment_applied")

# (session, message, error_code) -> True when handled: Twilio finally refused an outbound
# message. Reminders fall back to SMS on 63016; otherwise the conversation goes to the agents.
delivery_failed = Hook("delivery_failed")

# (session, conversation): an agent handed a conversation back, closed it or released it; the
# reminders that waited for the agent go out again at the next allowed moment.
conversation_released = Hook("conversation_released")
