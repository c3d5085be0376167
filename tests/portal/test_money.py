"""Typed amounts are read strictly: what a person means, or a refusal; never a surprise and never a crash."""
import pytest

from portal import money


@pytest.mark.parametrize("text, cents", [("1,234.56", 123456), ("1234.5", 123450), ("$12", 1200), ("-5.00", -500),
                                         (".50", 50), ("1,234,567", 123456700), (" 7 ", 700)])
def test_amounts_people_type_are_read(text, cents):
    assert money.parse_cents(text) == cents


@pytest.mark.parametrize("text", ["1e3", "1E3", "1,2,3", "12,34", "1,2345", "9e999999", "1" * 400, "NaN", "inf",
                                  "", ".", "$", "1.005", "1 000", "12a", "0x10", "1_000", "\x00", "1\x00"])
def test_anything_else_is_refused_with_value_error(text):
    with pytest.raises(ValueError):
        money.parse_cents(text)


def test_a_billion_dollars_is_refused_but_large_real_amounts_are_not():
    assert money.parse_cents("999,999,999.99") == 99_999_999_999
    with pytest.raises(ValueError):
        money.parse_cents("1000000000")
