"""Chinese mobile numbers: one normalization for every place a phone number is read."""

from __future__ import annotations

import re
import unicodedata

from app.errors import InvalidInput

# ASCII digits only: `\d` would also match Arabic-Indic, Devanagari, ... digits, which look like other numbers.
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_SEPARATORS = re.compile(r"[\s\-()]")
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")


def normalize_phone(raw: str, field: str = "phone") -> str:
    """Return a Chinese mobile number as 11 ASCII digits, accepting +86/0086 and spaces or dashes.

    NFKC first, so full-width digits typed on a phone keyboard become the very number they show (and meet the
    record of that number, never a look-alike of it); every other non-ASCII digit is refused.
    """
    digits = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw or ""))
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
    if not _MOBILE.match(digits):
        raise InvalidInput("not a Chinese mobile number (11 digits starting 13-19)", field=field)
    return digits


def is_mobile(text: str) -> bool:
    """Tell whether `text` is a normalized Chinese mobile number."""
    return bool(_MOBILE.match(text))


def find_mobile(text: str) -> str | None:
    """Return the first Chinese mobile number written as 11 digits in `text`, or None."""
    found = _MOBILE_IN_TEXT.search(text)
    return found.group(0) if found else None


def mask_phone(phone: str | None) -> str | None:
    """Show a phone number as 138****5678."""
    if not phone:
        return phone
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


def normalize_login(login: str) -> str:
    """Return what a user signs in with as stored: an email in lower case, or a normalized mobile number."""
    login = unicodedata.normalize("NFKC", login or "").strip().lower()
    if "@" in login:
        return login
    try:
        return normalize_phone(login)
    except InvalidInput:
        # Nothing is stored under a login that is neither; an impossible key keeps the lookup's work the same.
        return "\x01" + login[:50]
