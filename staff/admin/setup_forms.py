"""Forms of the facility set-up and payer pages: shape and bounds only; portal.facility and portal.payers
decide what a record may hold and name the field a refusal belongs to."""
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.forms import Form
from portal.models import PAYER_TYPES
from portal.models.providers import PROGRAM_LEVELS

LEVEL_LABELS = {"iop": "Intensive outpatient (IOP)", "php": "Partial hospitalization (PHP)",
                "outpatient": "Outpatient", "residential": "Residential", "detox": "Detox", "other": "Other"}
PAYER_TYPE_LABELS = {"commercial": "Commercial", "medicaid": "Medicaid", "medicare": "Medicare",
                     "medicare_advantage": "Medicare Advantage", "tricare": "TRICARE", "self_pay": "Self-pay",
                     "other": "Other"}


def some_id(value) -> int:
    """A select of records where the first choice, 0, is "none"."""
    return int(value) if value not in (None, "") else 0


class ProgramForm(Form):
    name = StringField("Program name", validators=[DataRequired(), Length(max=100)])
    level_of_care = SelectField("Level of care", choices=[(level, LEVEL_LABELS[level]) for level in PROGRAM_LEVELS])
    location_id = SelectField("Location", coerce=some_id, default=0)
    billing_provider_id = SelectField("Billing provider", coerce=some_id, default=0,
                                      description="Who the claims are billed under: usually the organization.")
    rendering_provider_id = SelectField("Rendering provider", coerce=some_id, default=0,
                                        description="Who treats, when the program has one clinician of record.")
    active = BooleanField("Active (new episodes may use it)", default=True)


class LocationForm(Form):
    name = StringField("Location name", validators=[DataRequired(), Length(max=100)])
    place_of_service = StringField("Place-of-service code", validators=[DataRequired(), Length(max=2)],
                                   description="Two digits from the CMS list, such as 11 office, 52 partial "
                                               "hospitalization, 57 non-residential substance use treatment.")
    address_line1 = StringField("Street address", validators=[Optional(), Length(max=200)])
    city = StringField("City", validators=[Optional(), Length(max=100)])
    state = StringField("State", validators=[Optional(), Length(max=2)])
    zip_code = StringField("ZIP", validators=[Optional(), Length(max=10)])
    active = BooleanField("Active", default=True)


class ProviderForm(Form):
    kind = SelectField("Kind", choices=[("individual", "An individual clinician (NPI type 1)"),
                                        ("organization", "The organization (NPI type 2)")])
    first_name = StringField("First name", validators=[Optional(), Length(max=100)])
    last_name = StringField("Last name", validators=[Optional(), Length(max=100)],
                            description="Individuals only.")
    credentials = StringField("Credentials", validators=[Optional(), Length(max=40)],
                              description="Individuals only, such as LCSW or MD.")
    organization_name = StringField("Organization's legal name", validators=[Optional(), Length(max=200)],
                                    description="The organization only.")
    npi = StringField("NPI", validators=[DataRequired(), Length(max=12)])
    taxonomy_code = StringField("Taxonomy code", validators=[Optional(), Length(max=12)],
                                description="10 characters ending in X, such as 101YM0800X.")
    tin = StringField("Tax id (TIN)", validators=[Optional(), Length(max=12)], description="Such as 12-3456789.")
    active = BooleanField("Active", default=True)


class PayerForm(Form):
    name = StringField("Payer name", validators=[DataRequired(), Length(max=200)])
    x12_payer_id = StringField("Payer id (electronic claims)", validators=[Optional(), Length(max=80)])
    payer_type = SelectField("Type", choices=[(kind, PAYER_TYPE_LABELS[kind]) for kind in PAYER_TYPES])
    claims_address_line1 = StringField("Claims address", validators=[Optional(), Length(max=200)])
    claims_city = StringField("City", validators=[Optional(), Length(max=100)])
    claims_state = StringField("State", validators=[Optional(), Length(max=2)])
    claims_zip_code = StringField("ZIP", validators=[Optional(), Length(max=10)])
    phone = StringField("Provider services phone", validators=[Optional(), Length(max=32)])
    timely_filing_days = IntegerField("Timely filing limit (days from service)",
                                      validators=[Optional(), NumberRange(min=1, max=3650)])
    appeal_limit_days = IntegerField("Appeal limit (days from the denial)",
                                     validators=[Optional(), NumberRange(min=1, max=3650)])
    active = BooleanField("Active (new coverages may use it)", default=True)


class PlanForm(Form):
    name = StringField("Plan name", validators=[DataRequired(), Length(max=200)])
    active = BooleanField("Active", default=True)


class ClaimRuleForm(Form):
    """One of a payer's claim rules; portal.claims.rules checks the codes, modifiers and combinations."""

    billing_provider_id = SelectField("Billing provider (NPI)", coerce=some_id,
                                      description="Leave on every NPI unless one NPI's contract differs.")
    claim_type = SelectField("Claim type", choices=[("professional", "Professional (837P)"),
                                                    ("institutional", "Institutional (837I)")])
    code_set = SelectField("Lines coded by", choices=[("procedure", "Procedure code (HCPCS/CPT)"),
                                                      ("revenue_only", "Revenue code only (837I)")])
    billable_codes = StringField("Codes this payer is billed for", validators=[Optional(), Length(max=200)],
                                 description="Separated by commas, such as S9480,H0015. Empty: any billable code.")
    required_modifiers = StringField("Modifiers every line needs", validators=[Optional(), Length(max=20)],
                                     description="Up to four, separated by commas, such as HQ,95.")
    place_of_service = StringField("Place of service", validators=[Optional(), Length(max=2)],
                                   description="Instead of the program location's; empty: the location's.")
    taxonomy_code = StringField("Taxonomy code", validators=[Optional(), Length(max=10)],
                                description="Instead of the billing provider's.")
    send_rendering_provider = BooleanField("Send the rendering provider", default=True)
    authorization_required = BooleanField("Lines need an authorization", default=True)
    grouping = SelectField("One claim per", choices=[("day", "Day"), ("week", "Week"), ("month", "Month")],
                           default="week")
    bill_type = StringField("Type of bill (837I)", validators=[Optional(), Length(max=3)],
                            description="Facility type and classification, such as 13.")
    secondary_electronic = BooleanField("Secondary claims go electronically", default=True)
