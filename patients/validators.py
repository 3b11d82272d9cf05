"""Brazilian identifiers: CPF and phone numbers."""
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_NON_DIGITS = re.compile(r"\D")


def cpf_normalize(value: str) -> str:
    """Digits only: '529.982.247-25' -> '52998224725'."""
    return _NON_DIGITS.sub("", value or "")


def cpf_is_valid(value: str) -> bool:
    digits = cpf_normalize(value)
    if len(digits) != 11 or digits == digits[0] * 11:
        return False
    nums = [int(d) for d in digits]
    for pos in (9, 10):
        total = sum(n * w for n, w in zip(nums[:pos], range(pos + 1, 1, -1), strict=True))
        check = (total * 10) % 11 % 10
        if nums[pos] != check:
            return False
    return True


def validate_cpf(value: str) -> None:
    digits = cpf_normalize(value)
    if len(digits) != 11:
        raise ValidationError(_("The CPF must have 11 digits."), code="cpf_length")
    if not cpf_is_valid(digits):
        raise ValidationError(_("Invalid CPF: check the verification digits."), code="cpf_invalid")


def cpf_format(value: str) -> str:
    d = cpf_normalize(value)
    return f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}" if len(d) == 11 else value


def phone_normalize(value: str) -> str:
    """Return E.164 ('+5511987654321') for a phone typed the Brazilian way or already in E.164.

    Accepts '(11) 98765-4321', '11 3333-4444', '011 98765 4321', '+55 11 98765-4321',
    '+1 415 555 0100'. Raises ValidationError when it cannot be a valid number.
    """
    raw = (value or "").strip()
    if not raw:
        return ""
    digits = _NON_DIGITS.sub("", raw)
    if raw.startswith("+"):
        if raw.startswith("+55"):
            return "+55" + _brazilian_national(digits[2:])
        if not 8 <= len(digits) <= 15:
            raise ValidationError(_("Invalid phone number: use the international format, e.g. +5511987654321."), code="phone")
        return "+" + digits
    if digits.startswith("00"):  # international call prefix typed as digits
        return phone_normalize("+" + digits[2:])
    if digits.startswith("0"):  # national trunk prefix, e.g. 011 or 0 + carrier code
        digits = digits[1:]
        if len(digits) in (12, 13):  # carrier selection code (2 digits) before the area code
            digits = digits[2:]
    if digits.startswith("55") and len(digits) in (12, 13):
        digits = digits[2:]
    return "+55" + _brazilian_national(digits)


def _brazilian_national(digits: str) -> str:
    err = ValidationError(
        _("Invalid phone number: enter the area code and number, e.g. (11) 98765-4321."), code="phone"
    )
    if len(digits) not in (10, 11):
        raise err
    ddd, number = digits[:2], digits[2:]
    if ddd[0] == "0" or ddd[1] == "0":
        raise err
    if len(number) == 9 and number[0] != "9":
        raise err
    if len(number) == 8 and number[0] not in "2345":
        raise err
    return digits


def validate_phone(value: str) -> None:
    phone_normalize(value)
