from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.forms import Form

NONE = 0  # the "none" entry of an optional select


class EpisodeForm(Form):
    program_id = SelectField("Program", coerce=int, validators=[DataRequired(message="Choose a program.")])
    admit_date = DateField("Admission date", validators=[DataRequired(message="Enter the admission date.")])
    discharge_date = DateField("Discharge date", validators=[Optional()], description="Empty while the stay goes on.")
    diagnoses = TextAreaField(
        "Diagnoses (ICD-10-CM)", validators=[DataRequired(message="Enter at least the principal diagnosis."),
                                             Length(max=300)],
        description="Principal first, up to 12, separated by commas or lines: F10.20, F32.1 (with or without the dot).")
    referring_provider_name = StringField("Referring provider", validators=[Optional(), Length(max=200)])
    referring_provider_npi = StringField("Referring provider's NPI", validators=[Optional(), Length(max=20)])


class HandChargeForm(Form):
    billing_code_id = SelectField("Billing code", coerce=int, validators=[DataRequired(message="Choose a code.")])
    service_date = DateField("Date of service", validators=[DataRequired(message="Enter the date of service.")])
    units = IntegerField("Units", validators=[DataRequired(message="Enter 1 to 999 units."),
                                              NumberRange(min=1, max=999, message="Enter 1 to 999 units.")])
    modifiers = StringField("Modifiers", validators=[Optional(), Length(max=30)],
                            description="Up to 4, separated by commas: HQ, 95.")
    revenue_code = StringField("Revenue code", validators=[Optional(), Length(max=10)],
                               description="4 digits; empty uses the code's own.")
    place_of_service = StringField("Place of service", validators=[DataRequired(message="Enter 2 digits."),
                                                                   Length(max=5)])
    rendering_provider_id = SelectField("Rendering provider", coerce=int, validators=[Optional()])
    episode_id = SelectField("Episode", coerce=int, validators=[Optional()])
    diagnosis_pointers = StringField("Diagnosis pointers", validators=[Optional(), Length(max=20)],
                                     description="Up to 4 numbers from the episode's list, principal first: 1, 2.")
    coverage_id = SelectField("Bill to", coerce=int, validators=[Optional()])
    token = HiddenField(validators=[DataRequired(), Length(max=64)])  # one charge per form shown
    preview = SubmitField("Show the price")
    post = SubmitField("Post the charge")


class ReviewFilterForm(Form):
    """The queue's filters, read from the query string (ids and dates only: no PHI in the URL)."""

    class Meta:
        csrf = False

    start = DateField("Service from", validators=[Optional()])
    end = DateField("Service to", validators=[Optional()])
    patient = SelectField("Patient", coerce=int, default=NONE, validators=[Optional()])
    code = SelectField("Code", coerce=int, default=NONE, validators=[Optional()])
