from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.forms import Form, record_id


class UploadForm(Form):
    file = FileField("835 file", validators=[FileRequired("Choose the 835 file the payer sent.")])


class NoteForm(Form):
    note = TextAreaField("Note", validators=[DataRequired("Say why."), Length(max=1000)])


class MatchForm(Form):
    claim_id = HiddenField(validators=[DataRequired(), record_id])
    claim_line_id = HiddenField(validators=[Optional(), record_id])  # a waiting line: the claim line it pays
