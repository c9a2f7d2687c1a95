"""Errors shared by the ways a message leaves (Twilio, SMTP)."""


class ProviderUnavailable(RuntimeError):
    """Twilio or the SMTP server could not take the message now; the job retries."""
