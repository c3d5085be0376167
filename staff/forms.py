"""Forms every staff area shares."""
from flask_wtf import FlaskForm


class ActionForm(FlaskForm):
    """A button that changes something, or a table of inputs the view reads itself: only the CSRF token travels."""
