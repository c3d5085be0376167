import pytest

from portal.charges import CodingError, diagnosis_description, format_diagnosis, normalize_diagnosis, normalize_npi


@pytest.mark.parametrize("typed", ["F10.20", "F1020", " f10.20 "])
def test_a_billable_code_is_stored_without_its_dot(typed):
    assert normalize_diagnosis(typed) == "F1020"
    assert format_diagnosis("F1020") == "F10.20"
    assert diagnosis_description("F1020") == "Alcohol dependence, uncomplicated"


def test_a_category_is_not_billable():
    with pytest.raises(CodingError, match="F10 is a category"):
        normalize_diagnosis("F10")


@pytest.mark.parametrize("typed", ["Z99.99", "garbage", "F10.2\x00", "", "F" * 40])
def test_what_is_not_an_icd10_code_is_refused(typed):
    with pytest.raises(CodingError, match="not an ICD-10-CM code"):
        normalize_diagnosis(typed)


def test_npi_check_digit():
    assert normalize_npi("1234567893") == "1234567893"
    with pytest.raises(CodingError, match="check digit"):
        normalize_npi("1234567890")
    with pytest.raises(CodingError, match="10 digits"):
        normalize_npi("12345")
