"""The fake Stripe's charges (bot.testing.fake_stripe): a paid Checkout Session gets a
PaymentIntent and a charge, which a Dashboard refund (charge.refunded, amount_refunded counting
every refund so far) or a cardholder's dispute (charge.dispute.created, then .closed won or
lost) takes back. The events are returned unsigned: sign and post them with `deliver`."""

import secrets

from bot import clock


class ChargesMixin:
    def pay_session(self, session_id):
        """The customer pays: the session gets its PaymentIntent and charge (once)."""
        with self.lock:
            session = self.sessions[session_id]
            if not session.get("payment_intent"):
                session["payment_intent"] = "pi_" + secrets.token_hex(12)
                session["_charge"] = {
                    "id": "ch_" + secrets.token_hex(12),
                    "object": "charge",
                    "amount": session["amount_total"],
                    "amount_refunded": 0,
                    "refunded": False,
                    "currency": session["currency"],
                    "payment_intent": session["payment_intent"],
                    "disputed": False,
                    "status": "succeeded",
                }
        return session["payment_intent"]

    def refund_event(self, session_id, amount=None, event_id=None):
        """Refund (part of) a paid session's charge from the Dashboard: charge.refunded, whose
        amount_refunded counts every refund so far."""
        self.pay_session(session_id)
        with self.lock:
            charge = self.sessions[session_id]["_charge"]
            left = charge["amount"] - charge["amount_refunded"]
            charge["amount_refunded"] += left if amount is None else min(amount, left)
            charge["refunded"] = charge["amount_refunded"] == charge["amount"]
            obj = dict(charge)
        return self._charge_event("charge.refunded", obj, event_id)

    def dispute_event(self, session_id, reason="fraudulent", event_id=None, closed=None):
        """The cardholder disputes the charge: charge.dispute.created (the amount is withdrawn),
        or with closed="won"/"lost" the charge.dispute.closed that ends it."""
        self.pay_session(session_id)
        with self.lock:
            charge = self.sessions[session_id]["_charge"]
            charge["disputed"] = True
            obj = {
                "id": "dp_" + secrets.token_hex(12),
                "object": "dispute",
                "amount": charge["amount"],
                "charge": charge["id"],
                "payment_intent": charge["payment_intent"],
                "currency": charge["currency"],
                "reason": reason,
                "status": closed or "needs_response",
            }
        return self._charge_event(
            "charge.dispute." + ("closed" if closed else "created"), obj, event_id
        )

    @staticmethod
    def _charge_event(type_, obj, event_id=None):
        return {
            "id": event_id or "evt_" + secrets.token_hex(12),
            "object": "event",
            "type": type_,
            "created": int(clock.epoch()),
            "data": {"object": obj},
        }
