"""Forms for invoices: which charges and how grouped, why one is voided."""
from wtforms import RadioField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from portal.forms import Form
from portal.invoices import GROUPINGS


class BuildInvoicesForm(Form):
    charge_ids = SelectMultipleField("Charges to invoice", coerce=int, widget=ListWidget(prefix_label=False),
                                     option_widget=CheckboxInput(),
                                     validators=[InputRequired("Choose at least one charge.")],
                                     invalid_value_message="Choose the charges from the list.",
                                     invalid_choice_message="A chosen charge cannot be invoiced now (another invoice "
                                                            "may have taken it): reload the page and choose again.")
    grouping = RadioField("Make", choices=list(GROUPINGS.items()), default="one")


class VoidInvoiceForm(Form):
    reason = StringField("Why it is voided", validators=[DataRequired("Say why the invoice is voided."),
                                                         Length(max=300)])


class SendInvoiceForm(Form):
    """Only the CSRF token: the invoice is in the address and goes to the guarantor's email on file."""
