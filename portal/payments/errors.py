"""The error card payments raise, with a message a guarantor can read.

Messages are raised (and kept on an attempt's record) in English; `shown` says one in the language of the page
it is shown on. Every sentence a payer can meet on the card form is listed in `PAYER_SENTENCES`, marked for
the catalog: a message is recognised by its English (the %(name)s parts, an amount or a card, carried over)."""
import re
from functools import cache

from flask_babel import gettext

from portal.i18n import N_


class PaymentError(ValueError):
    """A payment request that cannot go ahead, with a message fit to show (beside `field` when one
    field of the form is what is wrong)."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


# As raised by payments.cards and payments.gateway (and kept as an attempt's failure message by them and the
# webhooks); staff-only sentences (refunds, webhook events) are not here.
PAYER_SENTENCES: tuple[str, ...] = (
    # cards
    N_("Nothing is due on this account right now."),
    N_("Enter an amount up to your balance of %(amount)s."),
    N_("The smallest payment we can take is %(amount)s."),
    N_("This payment form has expired. Please reload the page."),
    N_("Choose one of your saved cards, or enter a card."),
    N_("This payment was not found."),
    N_("Enter your card first."),
    N_("This card was not saved for this payment. Enter your card again."),
    N_("Nothing is due on this account any more: another payment covered it. Nothing was charged."),
    N_("Another payment was made meanwhile: %(amount)s is due now. Nothing was charged."),
    N_("The payment did not go through. Nothing was charged."),
    N_("The card was not saved. Please try again."),
    N_("That card is not saved on this account."),
    N_("Your %(brand)s ending %(last4)s pays your payment plan. Choose another card for the plan first."),
    # gateway (DECLINE_WORDS and the service's own failures)
    N_("Your card was declined. Please use another card or call your bank."),
    N_("Your card has insufficient funds. Please use another card."),
    N_("Your card has expired. Please use another card."),
    N_("The security code is not right. Please check it and try again."),
    N_("The card could not be processed. Please try again in a moment."),
    N_("Your bank could not confirm this payment. Please try again or use another card."),  # 3-D Secure failed
    N_("Card payments are not set up. Please call our billing office."),
    N_("The card service did not answer. Nothing was charged; please try again."),
)


@cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """(the English as a pattern with one named group per placeholder, the msgid) for each payer sentence."""
    found = []
    for msgid in PAYER_SENTENCES:
        parts = re.split(r"%\((\w+)\)s", msgid)  # literal, name, literal, name, ..., literal
        pattern = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
        found.append((re.compile(pattern, re.DOTALL), msgid))
    return tuple(found)


def shown(message: str | None) -> str | None:
    """`message`, a payer sentence in English, in the current page's (or mail's) language; any other message
    (Stripe's own words, a sentence already translated) as it is."""
    if not message:
        return message
    text = str(message)
    for pattern, msgid in _patterns():
        match = pattern.fullmatch(text)
        if match:
            return gettext(msgid, **match.groupdict())
    return text
