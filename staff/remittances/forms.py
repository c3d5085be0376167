from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class UploadForm(FlaskForm):
    file = FileField("835 file", validators=[FileRequired("Choose the 835 file the payer sent.")])


class NoteForm(FlaskForm):
    note = TextAreaField("Note", validators=[DataRequired("Say why."), Length(max=1000)])


class MatchForm(FlaskForm):
    claim_id = HiddenField(validators=[DataRequired()])
    claim_line_id = HiddenField(validators=[Optional()])  # a waiting line: the claim line it pays


class DenialForm(FlaskForm):
    status = SelectField("Mark as", choices=[("worked", "Worked"), ("appealed", "Appealed")])
    note = TextAreaField("Note", validators=[DataRequired("Add a note saying what was done."), Length(max=1000)])






