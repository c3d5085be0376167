from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal.forms import Form, record_id


def _not_before_since(form, field) -> None:
    if field.data and form.since.data and field.data < form.since.data:
        raise ValidationError("The through date is before the from date.")


class BuildForm(Form):
    payer_id = SelectField("Payer", coerce=int, validate_choice=True)
    program_id = SelectField("Program", coerce=int, validate_choice=True)
    since = DateField("Services from", validators=[Optional()])
    through = DateField("Services through", validators=[Optional(), _not_before_since])


class OverrideForm(Form):
    reason = TextAreaField("Why this warning does not stop the claim", validators=[
        DataRequired("Give the reason for the override."), Length(max=2000)])


class ScrubForm(Form):
    """Only the CSRF token: the claim is in the address."""


class SendForm(Form):
    payer_id = HiddenField(validators=[DataRequired("Choose the payer to send to."), record_id])


class ClaimFileForm(Form):
    file = FileField("X12 file", validators=[FileRequired("Choose the file to import.")])


class FollowUpForm(Form):
    """Only the CSRF token: the claim and the action are in the address."""
