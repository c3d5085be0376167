from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from portal import money
from portal.collections.policy import CHANNEL_WORDS, HOLD_WORDS, OUTCOME_WORDS, STAGE_WORDS
from portal.forms import Form, record_id
from portal.models.collections import CONTACT_CHANNELS, CONTACT_OUTCOMES, STAFF_HOLD_KINDS


class MoneyField(StringField):
    """Dollars typed by a person; `.cents` holds the parsed amount once validated."""

    cents: int | None = None

    def pre_validate(self, form):
        self.cents = None
        if self.data:
            try:
                self.cents = money.parse_cents(self.data)
            except ValueError as exc:
                raise ValidationError("Enter an amount like 25.00.") from exc


class ContactForm(Form):
    channel = SelectField("How", choices=[(c, CHANNEL_WORDS[c]) for c in CONTACT_CHANNELS])
    outcome = SelectField("What happened", choices=[(o, OUTCOME_WORDS[o]) for o in CONTACT_OUTCOMES])
    note = TextAreaField("Note", validators=[Optional(), Length(max=1000)])


class PromiseForm(Form):
    amount = MoneyField("Amount promised (dollars)", validators=[DataRequired(), Length(max=12)])
    due_on = DateField("Promised by", validators=[DataRequired()])


class HoldForm(Form):
    kind = SelectField("Hold", choices=[(k, HOLD_WORDS[k]) for k in STAFF_HOLD_KINDS])
    reason = StringField("Why", validators=[DataRequired(), Length(max=500)])
    ends_on = DateField("Ends on", validators=[Optional()])
    review_on = DateField("Review on", validators=[Optional()])


class PreferencesForm(Form):
    email_opt_out = BooleanField("Opted out of email: no billing or collection emails")
    text_consent = BooleanField("Consents to text messages about the bill")


class AgencyStatusForm(Form):
    agency_id = HiddenField(validators=[DataRequired(), record_id])
    active = HiddenField(validators=[DataRequired()])  # "1": takes placements, "0": no new ones


class ReleaseForm(Form):
    hold_id = HiddenField(validators=[DataRequired(), record_id])


class AssignForm(Form):
    assignee = SelectField("Collector", coerce=int)
    next_action_on = DateField("Next action on", validators=[Optional()])


class PlaceForm(Form):
    agency = SelectField("Agency", coerce=int)


class RecallForm(Form):
    reason = StringField("Why recall", validators=[DataRequired(), Length(max=300)])


class AgencyPaymentForm(Form):
    token = HiddenField(validators=[DataRequired(), Length(max=64)])  # one submit, one posting
    gross = MoneyField("Collected by the agency (dollars)", validators=[DataRequired(), Length(max=12)])
    fee = MoneyField("Agency fee (dollars; empty for the agency's rate)",
                     validators=[Optional(), Length(max=12)])
    received_on = DateField("Received on", validators=[DataRequired()])
    reference = StringField("Agency reference", validators=[Optional(), Length(max=60)])


class BadDebtForm(Form):
    reason = StringField("Why write it off", validators=[DataRequired(), Length(max=300)])


class AgencyForm(Form):
    name = StringField("Agency name", validators=[DataRequired(), Length(max=200)])
    contact = StringField("Contact (email or phone)", validators=[Optional(), Length(max=200)])
    fee_bps = IntegerField("Fee (basis points of what it collects; 2500 = 25%)",
                           validators=[DataRequired(), NumberRange(min=0, max=10000)])


class AgingFilterForm(Form):
    class Meta:
        csrf = False  # a GET filter changes nothing

    as_of = DateField("As of", validators=[Optional()])
    payer = SelectField("Payer", coerce=int, default=0)
    facility = SelectField("Facility", coerce=int, default=0)
    collector = SelectField("Collector", coerce=int, default=0)
    stage = SelectField("Stage", choices=[("", "Any stage"), *STAGE_WORDS.items()], default="")


def _days(label):
    return IntegerField(label, validators=[DataRequired(), NumberRange(min=1, max=365)])


def _message(label):
    return TextAreaField(label, validators=[Optional(), Length(max=500)])


def _weight(label):
    return IntegerField(label, validators=[Optional(), NumberRange(min=0, max=100)])


class SettingsForm(Form):
    days_first_statement = _days("Days at first statement before the second")
    days_second_statement = _days("Days at second statement before the third")
    days_third_statement = _days("Days at third statement before the final notice")
    days_final_notice = _days("Days at final notice before pre-collection")
    message_first_statement = _message("Message on first statements")
    message_second_statement = _message("Message on second statements")
    message_third_statement = _message("Message on third statements")
    message_final_notice = _message("Message on the final notice")
    message_pre_collection = _message("Message at pre-collection")
    call_attempts_limit = IntegerField("Call attempts allowed per window",
                                       validators=[DataRequired(), NumberRange(min=1, max=7)])
    call_window_days = _days("Window for call attempts (days)")
    quiet_days_after_conversation = _days("No call for this many days after a conversation")
    earliest_hour = IntegerField("Earliest contact hour (guarantor's local time, 0-23)",
                                 validators=[DataRequired(), NumberRange(min=8, max=21)])
    latest_hour = IntegerField("Latest contact hour (guarantor's local time, 0-23)",
                               validators=[DataRequired(), NumberRange(min=8, max=21)])
    min_placement_days = IntegerField("Days after the first statement before placement or bad debt",
                                      validators=[DataRequired(), NumberRange(min=120, max=3650)])
    min_placement = MoneyField("Smallest balance ever placed (dollars)",
                               validators=[DataRequired(), Length(max=12)])
    weight_per_100_dollars = _weight("Score points per $100 owed (up to $5,000)")
    weight_per_age_bucket = _weight("Score points per 30 days of age")
    weight_per_stage = _weight("Score points per dunning stage")
    weight_per_broken_promise = _weight("Score points per broken promise")
    weight_no_recent_payment = _weight("Score points when nothing was paid in 60 days")
