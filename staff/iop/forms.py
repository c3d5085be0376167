from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.forms import Form


class SessionForm(Form):
    mrn = StringField("Patient MRN", validators=[DataRequired(), Length(max=32)])
    service_date = DateField("Date of service", validators=[DataRequired()])
    code = SelectField("Service", coerce=int, validators=[DataRequired()])
    minutes = IntegerField("Minutes", validators=[DataRequired(), NumberRange(min=0, max=1440)])
    units = IntegerField("Units", validators=[DataRequired(), NumberRange(min=0, max=48)])
    clinician = StringField("Clinician", validators=[DataRequired(), Length(max=100)])
    signed = BooleanField("The note is signed")


class AuthorizationForm(Form):
    mrn = StringField("Patient MRN", validators=[DataRequired(), Length(max=32)])
    code = SelectField("Billable code", coerce=int, validators=[DataRequired()])
    number = StringField("Authorization number", validators=[Optional(), Length(max=50)])
    start = DateField("First day", validators=[DataRequired()])
    end = DateField("Last day", validators=[DataRequired()])
    units = IntegerField("Units authorized", validators=[DataRequired(), NumberRange(min=1, max=366)])


class DismissForm(Form):
    reason = TextAreaField("Why is this day not billed?", validators=[DataRequired(), Length(max=500)])


class RerunForm(Form):
    service_date = DateField("Date of service", validators=[DataRequired()])

