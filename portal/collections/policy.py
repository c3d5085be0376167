"""Collections policy: the settings, the words for stages, buckets and holds, and how long each stage lasts."""


from portal import facility
from portal.extensions import db
from portal.models import (
    CollectionSettings,
)

STAGE_WORDS = {"none": "Not yet billed", "first_statement": "First statement",
               "second_statement": "Second statement", "third_statement": "Third statement",
               "final_notice": "Final notice", "pre_collection": "Pre-collection",
               "placed": "Placed with agency", "written_off": "Written off", "plan_defaulted": "Plan defaulted"}
BUCKETS = ("Current", "31–60", "61–90", "91–120", "Over 120")
BUCKET_KEYS = ("current", "days_31_60", "days_61_90", "days_91_120", "over_120")
HOLD_WORDS = {"insurance_pending": "Insurance pending", "plan": "Payment plan in good standing",
              "dispute": "Dispute", "financial_assistance": "Financial-assistance review",
              "bankruptcy": "Bankruptcy", "deceased": "Deceased"}
CHANNEL_WORDS = {"call": "Call", "email": "Email", "letter": "Letter", "note": "Note"}
OUTCOME_WORDS = {"no_answer": "No answer", "left_message": "Left a message (no debt details)",
                 "conversation": "Spoke with the guarantor", "wrong_number": "Wrong number", "sent": "Sent",
                 "returned_mail": "Returned mail", "note": "Note"}
# Holds under which nobody may contact the guarantor about the debt (automatic stay; an estate).
NO_CONTACT_HOLDS = ("bankruptcy", "deceased")
RECENT_PAYMENT_DAYS = 60
BALANCE_POINTS_CAP = 50  # hundreds of dollars: balances above $5,000 score alike
ACTOR_RUN = "task:collections"


class CollectionsError(ValueError):
    """The action is not allowed; the message says why, in words for staff."""


# ---------------------------------------------------------------- settings


def settings() -> CollectionSettings:
    """The collection rules: stored, or these messages and the column defaults unsaved (reading never writes)."""
    return facility.settings_row(
        CollectionSettings,
        message_second_statement="This is your second statement. Please pay or call us to set up a plan.",
        message_third_statement="Your balance is past due. Please pay now or call us to discuss options.",
        message_final_notice="Final notice: please pay or contact us within 30 days to avoid referral "
                             "to an outside agency.",
        message_pre_collection="Your account may be referred to a collection agency. Call us today; "
                               "payment plans and financial assistance are available.")






def stage_days(rules: CollectionSettings) -> dict[str, int]:
    return {"first_statement": rules.days_first_statement, "second_statement": rules.days_second_statement,
            "third_statement": rules.days_third_statement, "final_notice": rules.days_final_notice}




def _rows(statement) -> int:
    """Run a set-based statement; the number of rows it touched."""
    result = db.session.execute(statement, execution_options={"synchronize_session": False})
    return result.rowcount  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
