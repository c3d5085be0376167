from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, Regexp, ValidationError

from portal import facility
from portal.forms import Form


def valid_npi(form, field) -> None:
    """The facility's own NPI passes the same check-digit test as every provider's."""
    if field.data and not facility.npi_is_valid(field.data):
        raise ValidationError("This NPI's check digit is wrong: look for a mistyped digit.")


class NewUserForm(Form):
    full_name = StringField("Full name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    role = SelectField("Role", validators=[DataRequired()])
    password = PasswordField("Temporary password", validators=[
        DataRequired(), Length(min=12, max=200, message="Use 12 to 200 characters.")])


class EditUserForm(Form):
    role = SelectField("Role", validators=[DataRequired()])
    active = BooleanField("Active (may sign in)")



class AuditFilterForm(Form):
    class Meta:
        csrf = False  # a GET filter changes nothing

    actor = StringField("User email", validators=[Optional(), Length(max=254)])
    action = StringField("Action", validators=[Optional(), Length(max=50)])
    account_id = IntegerField("Account id", validators=[Optional()])
    patient_id = IntegerField("Patient id", validators=[Optional()])
    since = DateField("From", validators=[Optional()])
    until = DateField("To", validators=[Optional()])


X12_ID = "Letters and digits, 2 to 15 of them."


class FacilityForm(Form):
    name = StringField("Facility name", validators=[DataRequired(), Length(max=200)])
    neutral_name = StringField(
        "Name patients and processors see", validators=[DataRequired(), Length(max=200)],
        description="Shown on statements, mail and card receipts. Avoid program or treatment words.",
    )
    npi = StringField("NPI", validators=[Optional(), Regexp(r"^\d{10}$", message="An NPI has 10 digits."), valid_npi])
    tin = StringField("Tax id (TIN)", validators=[Optional(), Regexp(r"^\d{9}$", message="A TIN has 9 digits.")])
    phone = StringField("Billing phone", validators=[Optional(), Length(max=32)])
    admissions_phone = StringField("Admissions phone", validators=[Optional(), Length(max=32)],
                                   description="What prospects call about treatment and its cost. "
                                               "Empty: the billing phone.")
    address_line1 = StringField("Street address", validators=[Optional(), Length(max=200)])
    city = StringField("City", validators=[Optional(), Length(max=100)])
    state = StringField("State", validators=[Optional(), Regexp(r"^[A-Z]{2}$", message="Two capital letters.")])
    zip_code = StringField("ZIP", validators=[Optional(), Regexp(r"^\d{5}(-\d{4})?$", message="A 5-digit ZIP.")])
    statement_descriptor = StringField(
        "Card statement descriptor", validators=[DataRequired(), Length(min=5, max=22),
                                                  Regexp(r"^[A-Za-z0-9 .\-]+$", message="Letters, digits, spaces.")],
    )
    statement_minimum = StringField("No statement below (dollars)", validators=[Optional(), Length(max=12)])
    statement_due_days = IntegerField("Days from statement to due date",
                                      validators=[Optional(), NumberRange(min=1, max=90)])
    payment_minimum = StringField("Smallest card payment (dollars)", validators=[Optional(), Length(max=12)])
    charge_review = BooleanField("New charges wait in the charge review queue until a biller releases them")
    era_strict = BooleanField("Refuse remittance files over any validator finding, even those that change no money")
    x12_submitter_id = StringField(
        "Claim file submitter id", validators=[Optional(), Regexp(r"^[A-Za-z0-9]{2,15}$", message=X12_ID)],
        description="The id your clearinghouse gave you. Empty: the tax id.")
    x12_receiver_id = StringField(
        "Clearinghouse receiver id", validators=[Optional(), Regexp(r"^[A-Za-z0-9]{2,15}$", message=X12_ID)],
        description="Empty: each 837 file goes straight to its payer's electronic id.")
    x12_receiver_name = StringField("Clearinghouse name", validators=[Optional(), Length(max=60)])


class IopSettingsForm(Form):
    documentation_group_id = SelectField("Documentation group (notes that count toward the day)", coerce=int)
    billable_group_id = SelectField("Billable group (per-diem codes)", coerce=int)
    unit_threshold = IntegerField("Signed documentation units a day must reach",
                                  validators=[DataRequired(), NumberRange(min=1, max=48)])
    minimum_minutes = IntegerField("Also require at least this many documented minutes (leave empty for off)",
                                   validators=[Optional(), NumberRange(min=1, max=1440)])
    occurrence_minutes = IntegerField("Duration recorded on each generated charge (minutes)",
                                      validators=[DataRequired(), NumberRange(min=1, max=1440)])
    arrears_days = IntegerField("Days in arrears (time for clinicians to sign notes)",
                                validators=[Optional(), NumberRange(min=0, max=30)])
    catch_up_days = IntegerField("Catch-up window for late-signed notes (days)",
                                 validators=[Optional(), NumberRange(min=0, max=60)])
    alert_role = SelectField("Alert this user group when a day cannot be billed")
    default_clinician = StringField("Default clinician on generated charges", validators=[Optional(), Length(max=100)])
    default_location = StringField("Default location on generated charges", validators=[Optional(), Length(max=100)])
    forecast_alert_days = IntegerField("Warn this many days before an authorization runs out",
                                       validators=[Optional(), NumberRange(min=0, max=90)])


class BillingCodeForm(Form):
    code = StringField("Code (CPT/HCPCS)", validators=[DataRequired(), Length(max=10),
                                                       Regexp(r"^[A-Z0-9]+$", message="Capital letters and digits.")])
    description = StringField("Description", validators=[DataRequired(), Length(max=200)])
    revenue_code = StringField("Revenue code", validators=[Optional(), Regexp(r"^\d{4}$", message="Four digits.")])
    kind = SelectField("Kind", choices=[("billable", "Billable"), ("documentation", "Documentation only")])
    price = StringField("Price (dollars)", validators=[Optional(), Length(max=12)])
    minutes = IntegerField("Minutes", validators=[Optional(), NumberRange(min=1, max=1440)])
    groups = SelectMultipleField("Groups", coerce=int)


class CodeGroupForm(Form):
    name = StringField("Group name", validators=[DataRequired(), Length(max=100)])
    purpose = SelectField("What the group is for", choices=[
        ("documentation", "Documentation that counts toward a day"), ("billable", "Per-diem codes billed")])


class PlanPolicyForm(Form):
    min_balance = StringField("Smallest balance for a plan (dollars)", validators=[DataRequired(), Length(max=12)])
    min_installment = StringField("Smallest monthly payment (dollars)", validators=[DataRequired(), Length(max=12)])
    max_term_months = IntegerField("Longest plan (months)", validators=[DataRequired(), NumberRange(min=1, max=120)])
    down_payment_bps = IntegerField("Down payment, share of the balance (basis points; 1000 = 10%)",
                                    validators=[Optional(), NumberRange(min=0, max=10000)])
    down_payment = StringField("Down payment, at least (dollars)", validators=[Optional(), Length(max=12)])
    self_service_max_months = IntegerField("Longest plan a patient may choose without approval (months)",
                                           validators=[DataRequired(), NumberRange(min=1, max=120)])
    retry_days = StringField("Days between tries after a failed payment (e.g. 3,5,7)",
                             validators=[DataRequired(),
                                         Regexp(r"^\s*\d+(\s*,\s*\d+)*\s*$", message="Numbers and commas.")])
    failures_before_default = IntegerField("Failed tries before the plan defaults",
                                           validators=[DataRequired(), NumberRange(min=1, max=10)])
    reminder_lead_days = IntegerField("Remind the payer this many days before a charge",
                                      validators=[Optional(), NumberRange(min=0, max=30)])
    new_charges_join = BooleanField("New charges join an active plan (spread over the payments left); "
                                    "otherwise they are billed apart")
