"""Console accounts: create, one-time links to set a password, log in, change, disable, reset.

Flask-free (plain values and a session) so that `flask users …` and the web pages do exactly
the same. Every function works in the caller's session; the caller writes the audit entry in
that same session (store.audit), so an account change and its entry commit together.

Decisions:
- One e-mail is one account (kept NFC, trimmed, lower case); one unit and one role each.
- A one-time link carries a random token (256 bits); only its SHA-256 is stored. It expires
  after `console.password_link_hours` (24), works once, and a newer link for the same account
  replaces any unused older one. Opening the link does not use it (mail scanners open links);
  setting the password does.
- `reset` ends the old password and every session at once and issues a link: it is what an
  admin does both for a forgotten password and for a suspected compromise.
- Logging out, changing or setting the password, a reset and disabling change the account's
  session nonce, which every session carries: all sessions of the account end (sessions live
  in signed cookies, so this is how a copied cookie stops working).
"""
from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Collection, Optional

from sqlalchemy import delete, select

from bot.console import passwords
from store import PasswordToken, User

ROLES = ("officer", "head", "standing_office", "admin")
ROLE_NAMES = {
    "officer": "Cán bộ",
    "head": "Lãnh đạo đơn vị",
    "standing_office": "Cơ quan thường trực",
    "admin": "Quản trị hệ thống",
}
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class AccountError(ValueError):
    """The account operation cannot be done; the message (Vietnamese) says why."""


class WrongPassword(AccountError):
    """The current password given to change it is wrong (counted like a failed login)."""


def normalize_email(raw: str) -> str:
    return unicodedata.normalize("NFC", raw or "").strip().lower()[:255]


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def by_email(s, email: str) -> Optional[User]:
    return s.execute(select(User).where(User.email == normalize_email(email))).scalar_one_or_none()


def _check(unit_code: str, role: str, units: Collection[str]) -> None:
    if unit_code not in units:
        raise AccountError(f"Không có đơn vị {unit_code!r} trong cấu hình.")
    if role not in ROLES:
        raise AccountError(f"Vai trò {role!r} không hợp lệ (officer, head, standing_office, admin).")


def create_user(s, *, email: str, unit_code: str, role: str, units: Collection[str], now: datetime) -> User:
    email = normalize_email(email)
    if not EMAIL.fullmatch(email):
        raise AccountError("Email không hợp lệ.")
    _check(unit_code, role, units)
    if by_email(s, email) is not None:
        raise AccountError(f"Đã có tài khoản với email {email}.")
    user = User(email=email, unit_code=unit_code, role=role, active=True, session_nonce=new_nonce(),
                created_at=now, updated_at=now)
    s.add(user)
    s.flush()
    return user


def update_user(s, user: User, *, unit_code: str, role: str, units: Collection[str], now: datetime) -> dict:
    """Change unit and role; returns what changed ({field: [old, new]}). A changed role or unit
    ends the account's sessions, so no page keeps showing what the old role could see."""
    _check(unit_code, role, units)
    changed = {k: [getattr(user, k), v] for k, v in (("unit_code", unit_code), ("role", role)) if getattr(user, k) != v}
    if changed:
        user.unit_code, user.role, user.updated_at = unit_code, role, now
        user.session_nonce = new_nonce()
    return changed


def issue_link(s, user: User, *, purpose: str, now: datetime, hours: int, created_by: str) -> str:
    """A new one-time token for `user` (returned once, stored hashed); older unused ones go."""
    s.execute(delete(PasswordToken).where(PasswordToken.user_id == user.id, PasswordToken.used_at.is_(None)))
    raw = secrets.token_urlsafe(32)
    s.add(PasswordToken(user_id=user.id, token_hash=token_hash(raw), purpose=purpose, created_by=created_by,
                        created_at=now, expires_at=now + timedelta(hours=hours)))
    return raw


def link_url(base_url: str, raw: str) -> str:
    return f"{base_url.rstrip('/')}/password/set/{raw}"


@dataclass(frozen=True)
class LinkTarget:
    token_id: int
    user_id: int
    email: str
    purpose: str


def find_link(s, raw: str, now: datetime) -> Optional[LinkTarget]:
    """The account a token may set a password for: known, unused, unexpired, account active."""
    if not raw or len(raw) > 128:
        return None
    row = s.execute(select(PasswordToken, User).join(User, User.id == PasswordToken.user_id)
                    .where(PasswordToken.token_hash == token_hash(raw))).first()
    if row is None:
        return None
    token, user = row
    if token.used_at is not None or token.expires_at <= now or not user.active:
        return None
    return LinkTarget(token.id, user.id, user.email, token.purpose)


def set_password_with_link(s, raw: str, password: str, now: datetime) -> User:
    target = find_link(s, raw, now)
    if target is None:
        raise AccountError("Liên kết không hợp lệ, đã dùng hoặc đã hết hạn. Hãy xin quản trị viên một liên kết mới.")
    user = s.get(User, target.user_id)
    _set_password(user, password, now)
    s.get(PasswordToken, target.token_id).used_at = now
    return user


def _set_password(user: User, password: str, now: datetime) -> None:
    problem = passwords.policy_error(password, user.email)
    if problem:
        raise AccountError(problem)
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = user.updated_at = now
    user.session_nonce = new_nonce()


@dataclass(frozen=True)
class LoginResult:
    user: Optional[User]  # set only when the password matched
    reason: str  # ok | unknown | no_password | wrong_password | disabled


def authenticate(s, email: str, password: str, now: datetime) -> LoginResult:
    """Check a login. The same work is done whether or not the e-mail has an account."""
    user = by_email(s, email)
    if user is None:
        passwords.verify_unknown(password)
        return LoginResult(None, "unknown")
    if not user.password_hash:
        passwords.verify_unknown(password)
        return LoginResult(None, "no_password")
    if not passwords.verify(user.password_hash, password):
        return LoginResult(None, "wrong_password")
    if not user.active:
        return LoginResult(None, "disabled")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = now
    return LoginResult(user, "ok")


def change_password(s, user: User, current: str, new: str, now: datetime) -> None:
    if not passwords.verify(user.password_hash, current):
        raise WrongPassword("Mật khẩu hiện tại không đúng.")
    if passwords.verify(user.password_hash, new):
        raise AccountError("Mật khẩu mới phải khác mật khẩu hiện tại.")
    _set_password(user, new, now)


def end_sessions(user: User, now: datetime) -> None:
    user.session_nonce, user.updated_at = new_nonce(), now


def set_active(user: User, active: bool, now: datetime) -> bool:
    """Disable or enable; returns whether anything changed. Disabling ends every session."""
    if user.active == active:
        return False
    user.active, user.updated_at = active, now
    if not active:
        user.session_nonce = new_nonce()
    return True


def reset(s, user: User, *, now: datetime, hours: int, created_by: str) -> str:
    """The old password and every session end now; the returned token sets a new password."""
    user.password_hash, user.updated_at, user.session_nonce = None, now, new_nonce()
    return issue_link(s, user, purpose="reset", now=now, hours=hours, created_by=created_by)
