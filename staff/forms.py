"""Forms every staff area shares."""
from portal.forms import Form


class ActionForm(Form):
    """A button that changes something, or a table of inputs the view reads itself: only the CSRF token travels."""
