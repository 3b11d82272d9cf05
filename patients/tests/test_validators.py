import pytest
from django.core.exceptions import ValidationError

from patients.validators import cpf_format, cpf_is_valid, cpf_normalize, phone_normalize, validate_cpf


@pytest.mark.parametrize("value", ["529.982.247-25", "52998224725", "111.444.777-35", " 111 444 777 35 "])
def test_it_accepts_valid_cpf_formatted_and_unformatted(value):
    assert cpf_is_valid(value)
    validate_cpf(value)


@pytest.mark.parametrize("value", ["529.982.247-24", "52998224735", "11144477734"])
def test_it_rejects_wrong_check_digit(value):
    assert not cpf_is_valid(value)
    with pytest.raises(ValidationError) as exc:
        validate_cpf(value)
    assert exc.value.code == "cpf_invalid"


@pytest.mark.parametrize("digit", "0123456789")
def test_it_rejects_repeated_digits(digit):
    assert not cpf_is_valid(digit * 11)


@pytest.mark.parametrize("value", ["", "123", "529.982.247-255"])
def test_it_rejects_wrong_length(value):
    with pytest.raises(ValidationError) as exc:
        validate_cpf(value)
    assert exc.value.code == "cpf_length"


def test_it_normalizes_and_formats():
    assert cpf_normalize("529.982.247-25") == "52998224725"
    assert cpf_format("52998224725") == "529.982.247-25"


@pytest.mark.parametrize(
    "typed,e164",
    [
        ("(11) 98765-4321", "+5511987654321"),
        ("11 3333-4444", "+551133334444"),
        ("011 98765 4321", "+5511987654321"),
        ("+55 (21) 99876-5432", "+5521998765432"),
        ("5521998765432", "+5521998765432"),
        ("+1 415 555 0100", "+14155550100"),
        ("", ""),
    ],
)
def test_it_normalizes_phones_to_e164(typed, e164):
    assert phone_normalize(typed) == e164


@pytest.mark.parametrize("typed", ["12345", "(11) 88765-4321", "(10) 98765-4321", "(11) 1234-5678", "+55 11 123"])
def test_it_rejects_invalid_phones(typed):
    with pytest.raises(ValidationError):
        phone_normalize(typed)
