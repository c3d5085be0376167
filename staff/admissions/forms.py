from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.estimate_forms import EstimateForm, single_email
from portal.estimates.config import LEVEL_NAMES
from portal.forms import Form


class StaffEstimateForm(EstimateForm):
    plan = SelectField("Plan", validators=[Optional()])
    lead = SelectField("Save to prospect", validators=[Optional()])
    mrn = StringField("or to patient (MRN)", validators=[Optional(), Length(max=32)])
    save = BooleanField("Save this estimate")


class LeadForm(Form):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    phone = StringField("Phone", validators=[Optional(), Length(max=32)])
    email = StringField("Email", validators=[Optional(), Length(max=254), single_email])
    date_of_birth = DateField("Date of birth", validators=[Optional()])
    consent = BooleanField("The prospect agreed to be contacted")
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=2000)])


class AdmitForm(Form):
    mrn = StringField("Existing patient's MRN (leave empty to create a new account and patient)",
                      validators=[Optional(), Length(max=32)])
    first_name = StringField("Patient's first name", validators=[Optional(), Length(max=100)])
    last_name = StringField("Patient's last name", validators=[Optional(), Length(max=100)])
    date_of_birth = DateField("Patient's date of birth", validators=[Optional()])


class GfeForm(Form):
    mrn = StringField("Patient MRN", validators=[DataRequired(), Length(max=32)])
    primary_service = StringField("Primary service, in plain words", validators=[DataRequired(), Length(max=300)],
                                  default="Intensive outpatient program, 3 hours a day, 5 days a week")
    level = SelectField("Level of care", choices=[(k, v) for k, v in LEVEL_NAMES.items()])
    start = DateField("First date of service", validators=[DataRequired()])
    end = DateField("Last date of service", validators=[DataRequired()])
    quantity = IntegerField("Days or sessions expected", validators=[DataRequired(), NumberRange(min=1, max=366)])
    scheduled_on = DateField("Date scheduled (or requested)", validators=[DataRequired()])
    requested = BooleanField("The patient asked for this estimate (not yet scheduled)")
    diagnosis_codes = StringField("Diagnosis codes (optional)", validators=[Optional(), Length(max=200)])
    extra_items = TextAreaField("Other expected items, one per line: code, description, quantity, price",
                                validators=[Optional(), Length(max=4000)])
    separately_scheduled = TextAreaField("Items or services to be scheduled separately (not included)",
                                         validators=[Optional(), Length(max=2000)])


class DeliveredForm(Form):
    how = SelectField("Delivered", choices=[("in person (paper)", "in person (paper)"), ("mail", "by mail"),
                                            ("email", "by email"), ("portal", "in the patient portal")])


class SettingsForm(Form):
    half_life_days = IntegerField("Half-life of a payment's weight (days)", validators=[NumberRange(min=1, max=3650)])
    minimum_sample = IntegerField("Minimum sample before widening", validators=[NumberRange(min=1, max=10000)])
    lookback_days = IntegerField("Use payments from the last (days)", validators=[NumberRange(min=1, max=3650)])
    fallback_stop = SelectField(
        "When an insurer's own history is thin, widen at most to",
        choices=[("payer", "this insurer's plans (never other insurers)"),
                 ("payer_type", "insurers of the same type (commercial, Medicaid, Medicare)"),
                 ("all", "all insurers (a Medicaid estimate may rest on commercial payments)")])
    waive_balance_bill = BooleanField("Waive the balance bill out of network (billed − allowed)")
    gfe_dispute_threshold = IntegerField("GFE dispute threshold (whole dollars)",
                                         validators=[NumberRange(min=1, max=100000)])

