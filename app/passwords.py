"""The password policy: long enough, not a common password, not the account's own phone or email."""

from __future__ import annotations

import functools
import re
import unicodedata

from app.errors import InvalidInput

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 200

# Passwords Chinese users choose most often that the English-language leak list below lacks: the top entries
# of the Tianya, Dodonew and CSDN leaks as published in Li, Han and Xu, "A Large-Scale Empirical Analysis of
# Chinese Web Passwords" (USENIX Security 2014), plus the pinyin and "I love you" number forms they discuss.
CHINESE_COMMON_PASSWORDS = frozenset(
    {
        "5201314",
        "1314520",
        "7758521",
        "520520520",
        "woaini",
        "woaini1314",
        "woaini520",
        "a123456",
        "123456a",
        "aa123456",
        "abc123456",
        "a123456789",
        "qq123456",
        "qq5201314",
        "wo123456",
        "a5201314",
        "zxcvbnm123",
        "1qaz2wsx",
        "1q2w3e4r",
        "q1w2e3r4",
        "147258369",
        "159357",
        "123321",
        "112233",
        "123123123",
        "147258",
        "dearbook",
        "88888888",
        "66666666",
        "11223344",
        "00000000",
        "987654321",
        "12344321",
        "woaiwojia",
        "iloveyou1314",
        "wangyut2",
        "xiaoming",
        "zhang123",
        "wang1234",
        "li123456",
        "admin123",
        "password1",
    }
)


@functools.cache
def common_passwords() -> frozenset[str]:
    """Return the common-password list: zxcvbn's 30,000 most frequent leaked passwords plus the Chinese ones."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"]) | CHINESE_COMMON_PASSWORDS


def check_password_policy(password: str, *, phone: str | None = None, email: str | None = None) -> None:
    """Raise InvalidInput (field `password`) unless `password` meets the policy for this account."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            "password must have at least %(minimum)s characters", field="password", minimum=MIN_PASSWORD_LENGTH
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            "password may have at most %(maximum)s characters", field="password", maximum=MAX_PASSWORD_LENGTH
        )
    folded = unicodedata.normalize("NFKC", password).lower()
    if folded in common_passwords() or len(set(folded)) <= 2:
        raise InvalidInput("this password is among the most common ones; choose another", field="password")
    digits = re.sub(r"[^0-9]", "", folded)
    if phone and (phone in digits or (len(digits) >= 8 and digits in phone)):
        raise InvalidInput("the password may not be your phone number", field="password")
    local_part = (email or "").split("@")[0].lower()
    if len(local_part) >= 4 and local_part in folded:
        raise InvalidInput("the password may not contain your email address", field="password")
