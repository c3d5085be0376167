"""."""


class PaymentError(ValueError):
    """A payment request that cannot go ahead, with a message fit to show."""
