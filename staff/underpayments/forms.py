"""Forms of the underpayment pages."""
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.forms import Form


class UnderpaymentForm(Form):
    status = SelectField("Mark as", choices=[("appealed", "Appealed"), ("accepted", "Accepted")])
    note = TextAreaField("Note", validators=[DataRequired("Add a note saying why."), Length(max=1000)])


class SettingsForm(Form):
    threshold_bps = IntegerField("Flag a line allowed below (basis points of the expected; 9500 = 95%)",
                                 validators=[DataRequired(), NumberRange(min=1, max=10000)])
    minimum_sample = IntegerField("Earlier lines needed before history counts",
                                  validators=[DataRequired(), NumberRange(min=1, max=10000)])
    lookback_days = IntegerField("History window (days)", validators=[DataRequired(), NumberRange(min=1, max=3660)])


class ContractRateForm(Form):
    payer_id = SelectField("Payer", coerce=int, validators=[DataRequired()])
    plan_id = SelectField("Plan", coerce=int, validators=[Optional()])
    procedure_code = StringField("Procedure code", validators=[DataRequired(), Length(max=10)])
    allowed = StringField("Allowed per unit", validators=[DataRequired(), Length(max=12)])
    effective_from = DateField("First day", validators=[DataRequired()])
    effective_to = DateField("Last day (empty: open-ended)", validators=[Optional()])
