"""Password hashing (argon2id) and the rules for a new password.

Parameters: OWASP's first recommended argon2id configuration (Password Storage Cheat Sheet:
19 MiB, 2 passes, 1 lane), about 45 ms per hash on our 2-core machine. argon2-cffi's own
default (RFC 9106 low-memory: 64 MiB, 3 passes, 4 lanes) took 270-330 ms there, which four
lanes cannot shorten on two cores; a login would hold a gunicorn thread and a core for a
third of a second. Hashes made with other parameters still verify and are rehashed with these
at the next login (`needs_rehash`).

A new password must also not be easy to guess: zxcvbn (Dropbox's estimator, with its lists of
common passwords, keyboard walks, sequences, dates and English words) must rate it at least
GUESSABLE_BELOW (3: "safely unguessable", about 10^8 guesses and more), with the person's
e-mail and the province's words counted as known. A length rule and a short list let
"12345678901" through (a security review). zxcvbn reads at most its first 72 characters; what
a longer passphrase adds is not counted against it.

An unknown e-mail is checked against a dummy hash (`verify_unknown`) so that a login costs
the same time whether or not the account exists: the answer's timing must not tell which
e-mails have accounts.
"""
from __future__ import annotations

import secrets
import unicodedata
from functools import lru_cache
from typing import Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 256  # argon2 takes any length; a bound keeps a login request cheap to refuse
# The few that officers are known to choose first; a long list belongs to a breach corpus.
TOO_COMMON = frozenset({"1234567890", "12345678910", "0123456789", "matkhau123", "matkhau@123", "password123",
                        "password@123", "quangninh123", "quangninh@123", "qwertyuiop", "abc@123456",
                        "admin@12345", "ddci123456"})

GUESSABLE_BELOW = 3  # zxcvbn's score (0-4) a new password must reach
ZXCVBN_MAX = 72  # zxcvbn refuses longer input (its cost grows with the length)
# what an attacker of this deployment would try first, besides the person's e-mail
KNOWN_WORDS = ("quangninh", "quang ninh", "ddci", "matkhau", "mat khau", "canbo", "lanhdao", "bxt", "soxd")

_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def _text(password: str) -> str:
    """Passwords are compared as NFC: the same Vietnamese word typed on two keyboards matches."""
    return unicodedata.normalize("NFC", password)


def hash_password(password: str) -> str:
    return _hasher.hash(_text(password))


def verify(password_hash: Optional[str], password: str) -> bool:
    """True when `password` matches; an account without a hash costs a dummy verification."""
    if not password_hash:
        return verify_unknown(password)
    try:
        return _hasher.verify(password_hash, _text(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """The hasher's parameters changed since this hash was made (rehash at the next login)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_unknown(password: str) -> bool:
    """Spend a real verification on nothing, then say no."""
    try:
        _hasher.verify(_dummy_hash(), _text(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        pass
    return False


def policy_error(password: str, email: str = "") -> Optional[str]:
    """Why `password` may not be chosen (Vietnamese, shown to the person), or None."""
    text = _text(password or "")
    if len(text) < MIN_LENGTH:
        return f"Mật khẩu phải có ít nhất {MIN_LENGTH} ký tự."
    if len(text) > MAX_LENGTH:
        return f"Mật khẩu dài quá {MAX_LENGTH} ký tự."
    folded = text.casefold()
    if folded in TOO_COMMON or len(set(folded)) < 4:
        return "Mật khẩu quá dễ đoán; hãy chọn một cụm từ dài hơn."
    if email and (folded == email.casefold() or folded == email.split("@")[0].casefold()):
        return "Mật khẩu không được trùng với email."
    if _guessable(text, email):
        return ("Mật khẩu quá dễ đoán (dãy số, từ hay mật khẩu phổ biến, phím liền nhau, ngày tháng, email). "
                "Hãy chọn một cụm gồm vài từ mà người khác không đoán được.")
    return None


def _guessable(text: str, email: str) -> bool:
    from zxcvbn import zxcvbn

    known = [*KNOWN_WORDS, *([email, email.split("@")[0]] if email else [])]
    return zxcvbn(text[:ZXCVBN_MAX], user_inputs=known)["score"] < GUESSABLE_BELOW
