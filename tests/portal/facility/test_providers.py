"""Providers: an NPI is checked by its check digit, taxonomy codes and TINs by their shape; NPIs are unique."""
import pytest
from sqlalchemy import select

from portal import facility
from portal.extensions import db
from portal.models import AuditEvent, Provider


@pytest.mark.parametrize("npi", ["1234567893", "1245319599", "1003000126", "1987654328"])
def test_npis_with_a_right_check_digit_are_accepted(npi):
    assert facility.npi_is_valid(npi)
    assert facility.check_npi(f" {npi} ") == npi


@pytest.mark.parametrize("npi", ["1234567894", "1234567883", "1245319590", "2003000126"])
def test_a_one_digit_change_is_caught(npi):
    assert not facility.npi_is_valid(npi)
    with pytest.raises(facility.FieldError, match="check digit"):
        facility.check_npi(npi)


@pytest.mark.parametrize("npi", ["123456789", "12345678931", "12345678a3", "１２３４５６７８９３", ""])
def test_an_npi_is_ten_ascii_digits(npi):
    with pytest.raises(facility.FieldError, match="10 digits"):
        facility.check_npi(npi)


def test_taxonomy_and_tin_shapes():
    assert facility.check_taxonomy("101ym0800x") == "101YM0800X"
    assert facility.check_tin("12-3456789") == "123456789"
    assert facility.check_tin("123456789") == "123456789"
    for bad in ("101YM0800", "101YM08000", "X01YM0800X"):
        with pytest.raises(facility.FieldError):
            facility.check_taxonomy(bad)
    for bad in ("12-345678", "1234567890", "12-34567AB"):
        with pytest.raises(facility.FieldError):
            facility.check_tin(bad)


def test_provider_saved_audited_and_its_npi_unique(app):
    clinician = facility.save_provider(None, {"kind": "individual", "first_name": "Dana", "last_name": "Lee",
                                              "credentials": "LCSW", "npi": "1245319599",
                                              "taxonomy_code": "1041C0700X"}, actor="test")
    assert clinician.display_name == "Dana Lee, LCSW"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "provider.created"))
    assert event.object_id == str(clinician.id) and event.detail["npi"] == [None, "1245319599"]
    with pytest.raises(facility.FieldError, match="already has this NPI") as refused:
        facility.save_provider(None, {"kind": "organization", "organization_name": "Other",
                                      "npi": "1245319599"}, actor="test")
    assert refused.value.field == "npi"
    assert db.session.scalar(select(Provider).where(Provider.organization_name == "Other")) is None


def test_an_individual_needs_a_last_name_and_an_organization_its_name(app):
    with pytest.raises(facility.FieldError) as refused:
        facility.save_provider(None, {"kind": "individual", "npi": "1234567893"}, actor="test")
    assert refused.value.field == "last_name"
    with pytest.raises(facility.FieldError) as refused:
        facility.save_provider(None, {"kind": "organization", "npi": "1234567893"}, actor="test")
    assert refused.value.field == "organization_name"
