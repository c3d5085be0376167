"""The error card payments raise, with a message a guarantor can read."""


class PaymentError(ValueError):
    """A payment request that cannot go ahead, with a message fit to show."""
