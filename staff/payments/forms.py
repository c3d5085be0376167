"""Forms for posting by hand. Shapes and bounds only; the posting service decides the rest."""
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    ValidationError,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal import money
from portal.forms import Form
from portal.models.deposits import BATCH_KIND_LABELS
from portal.payments.desk import MANUAL_ADJUSTMENT_KINDS, MANUAL_METHODS, REFUND_METHODS

ALLOCATION_CHOICES = [("oldest", "Oldest service date first"), ("lines", "To the lines below (amounts in the table)")]


class AmountMixin:
    def validate_amount(self, field):
        try:
            self.amount_cents = money.parse_cents(field.data)
        except ValueError:
            raise ValidationError("Enter an amount like 25.00.") from None
        if self.amount_cents <= 0:
            raise ValidationError("Enter an amount above zero.")


class TokenMixin:
    token = HiddenField(validators=[DataRequired(), Length(max=64)])  # one posting per form shown


class PaymentForm(AmountMixin, TokenMixin, Form):
    batch_id = SelectField("Deposit batch", coerce=int, validators=[InputRequired(message="Choose an open batch.")])
    method = SelectField("Method", choices=list(MANUAL_METHODS.items()))
    amount = StringField("Amount", validators=[DataRequired(message="Enter an amount like 25.00."), Length(max=14)],
                         render_kw={"inputmode": "decimal", "autocomplete": "off"})
    received_on = DateField("Received on", validators=[DataRequired(message="Enter the date the payment arrived.")])
    reference = StringField("Check number or reference", validators=[Optional(), Length(max=100)],
                            description="Required for checks and card-terminal payments.")
    allocation = RadioField("Apply the payment", choices=ALLOCATION_CHOICES, default="oldest")


class ApplyCreditForm(TokenMixin, Form):
    payment_id = SelectField("Credit from", coerce=int, validators=[InputRequired()])
    allocation = RadioField("Apply the credit", choices=ALLOCATION_CHOICES, default="oldest")


class RefundCreditForm(AmountMixin, TokenMixin, Form):
    payment_id = SelectField("Credit from", coerce=int, validators=[InputRequired()])
    amount = StringField("Amount to refund", validators=[DataRequired(message="Enter an amount like 25.00."),
                                                         Length(max=14)], render_kw={"inputmode": "decimal"})
    method = SelectField("Refund by", choices=list(REFUND_METHODS.items()))
    check_number = StringField("Refund check number", validators=[Optional(), Length(max=30)])
    reason = StringField("Reason",
                         validators=[DataRequired(message="Say why the credit is refunded."), Length(max=300)])


class AdjustmentForm(AmountMixin, TokenMixin, Form):
    charge_id = SelectField("Charge", coerce=int, validators=[InputRequired(message="Choose a charge.")])
    bucket = SelectField("Balance", choices=[("patient", "Patient balance"), ("insurance", "Insurance balance")])
    kind = SelectField("Kind", choices=list(MANUAL_ADJUSTMENT_KINDS.items()))
    amount = StringField("Amount", validators=[DataRequired(message="Enter an amount like 25.00."), Length(max=14)],
                         render_kw={"inputmode": "decimal"})
    reason = StringField("Reason", validators=[DataRequired(message="Say why."), Length(max=300)])


class ReverseForm(Form):
    reason = StringField("Why is this reversed?", validators=[DataRequired(message="Say why this is reversed."),
                                                              Length(max=300)])


class BatchForm(Form):
    deposit_date = DateField("Deposit date", validators=[DataRequired(message="Enter the deposit date.")])
    kind = SelectField("Kind", choices=list(BATCH_KIND_LABELS.items()))
    control_total = StringField("Control total", validators=[DataRequired(message="Enter the counted total."),
                                                             Length(max=14)], render_kw={"inputmode": "decimal"})
    control_count = IntegerField("Number of payments", validators=[
        InputRequired(message="Enter how many payments were counted."), NumberRange(min=0, max=10_000)])

    def validate_control_total(self, field):
        try:
            self.control_total_cents = money.parse_cents(field.data)
        except ValueError:
            raise ValidationError("Enter an amount like 1250.00.") from None
        if self.control_total_cents < 0:
            raise ValidationError("The control total cannot be negative.")

