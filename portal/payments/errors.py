"""The error card payments raise, with a message a guarantor can read."""


class PaymentError(ValueError):
    """A payment request that cannot go ahead, with a message fit to show (beside `field` when one
    field of the form is what is wrong)."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field
