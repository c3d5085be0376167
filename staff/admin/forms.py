from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp


class NewUserForm(FlaskForm):
    full_name = StringField("Full name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    role = SelectField("Role", validators=[DataRequired()])
    password = PasswordField("Temporary password", validators=[
        DataRequired(), Length(min=12, max=200, message="Use 12 to 200 characters.")])


class EditUserForm(FlaskForm):
    role = SelectField("Role", validators=[DataRequired()])
    active = BooleanField("Active (may sign in)")


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token travels."""


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    actor = StringField("User email", validators=[Optional(), Length(max=254)])
    action = StringField("Action", validators=[Optional(), Length(max=50)])
    account_id = IntegerField("Account id", validators=[Optional()])
    patient_id = IntegerField("Patient id", validators=[Optional()])
    since = DateField("From", validators=[Optional()])
    until = DateField("To", validators=[Optional()])


class FacilityForm(FlaskForm):
    name = StringField("Facility name", validators=[DataRequired(), Length(max=200)])
    neutral_name = StringField(
        "Name patients and processors see", validators=[DataRequired(), Length(max=200)],
        description="Shown on statements, mail and card receipts. Avoid program or treatment words.",
    )
    npi = StringField("NPI", validators=[Optional(), Regexp(r"^\d{10}$", message="An NPI has 10 digits.")])
    tin = StringField("Tax id (TIN)", validators=[Optional(), Regexp(r"^\d{9}$", message="A TIN has 9 digits.")])
    phone = StringField("Billing phone", validators=[Optional(), Length(max=32)])
    address_line1 = StringField("Street address", validators=[Optional(), Length(max=200)])
    city = StringField("City", validators=[Optional(), Length(max=100)])
    state = StringField("State", validators=[Optional(), Regexp(r"^[A-Z]{2}$", message="Two capital letters.")])
    zip_code = StringField("ZIP", validators=[Optional(), Regexp(r"^\d{5}(-\d{4})?$", message="A 5-digit ZIP.")])
    statement_descriptor = StringField(
        "Card statement descriptor", validators=[DataRequired(), Length(min=5, max=22),
                                                  Regexp(r"^[A-Za-z0-9 .\-]+$", message="Letters, digits, spaces.")],
    )
