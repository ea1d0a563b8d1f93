"""`flask users create|list|disable|enable|reset|demo`: the console's accounts from the shell.

`create` and `reset` print a one-time link to set a password (config app.base_url, expiry
console.password_link_hours); the token is stored only hashed. Every change is written to the
audit log with actor "cli:<OS user>" and address "cli". `demo` (development only: it refuses
when DDCI_ENV=production) creates the demo accounts `make run` prints.
"""
from __future__ import annotations

import getpass
import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from bot import context, runtime
from bot.cli.units import unit_code as canonical_unit
from bot.console import accounts, passwords
from bot.console.accounts import ROLES
from store import User
from store import audit as log

users_cli = AppGroup("users", help="Console accounts: create, list, disable, enable, reset; demo accounts.")

# development only (`make run`): one department (officer and head), the standing office, an admin
DEMO_ACCOUNTS = (
    ("canbo.xd@demo.example", "SO_XD", "officer", "demo-canbo-soxd"),
    ("lanhdao.xd@demo.example", "SO_XD", "head", "demo-lanhdao-soxd"),
    ("bxt@demo.example", None, "standing_office", "demo-bxt-thuongtruc"),
    ("admin@demo.example", None, "admin", "demo-admin-ddci"),
)


def cli_actor() -> str:
    """Who ran a command, as the audit log names them: the operating system's user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a container
        return "cli"


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _record(s, action: str, email: str, details=None) -> None:
    log.record(s, at=context.clock()(), action=action, actor=cli_actor(), address="cli", object_type="user",
               object_id=email, details=details)


def _user(s, email: str) -> User:
    user = accounts.by_email(s, email)
    if user is None:
        _fail(f"no account with e-mail {accounts.normalize_email(email)}")
    return user


def _print_link(email: str, raw: str) -> None:
    settings = context.settings()
    hours = settings.config.console.password_link_hours
    click.echo(f"Liên kết đặt mật khẩu cho {email} (dùng một lần, hết hạn sau {hours} giờ):")
    click.echo(accounts.link_url(settings.config.app.base_url, raw))


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--unit", "unit_code", required=True, callback=canonical_unit, help="Unit code from config.yml, e.g. SO_XD.")
@click.option("--role", type=click.Choice(ROLES), required=True)
def create(email: str, unit_code: str, role: str) -> None:
    """Create an account and print its one-time link to set a password."""
    settings, now = context.settings(), context.clock()()
    with context.db().session() as s:
        try:
            user = accounts.create_user(s, email=email, unit_code=unit_code, role=role,
                                        units={u.code for u in settings.config.units}, now=now)
        except accounts.AccountError as exc:
            _fail(str(exc))
        raw = accounts.issue_link(s, user, purpose="invite", now=now, hours=settings.config.console.password_link_hours,
                                  created_by=cli_actor())
        _record(s, log.USER_CREATE, user.email, {"unit": unit_code, "role": role})
        email = user.email
    _print_link(email, raw)


@users_cli.command("list")
def list_users() -> None:
    """Every account: e-mail, unit, role, state, password set, last login (local time, as every
    instant the CLI prints for people)."""
    tz = runtime.calendar(context.settings()).tz
    with context.db().session() as s:
        for u in s.execute(select(User).order_by(User.unit_code, User.email)).scalars():
            state = "active" if u.active else "disabled"
            password = "password set" if u.password_hash else "no password yet"
            last = u.last_login_at.astimezone(tz).isoformat() if u.last_login_at else "never logged in"
            click.echo(f"{u.email}\t{u.unit_code}\t{u.role}\t{state}\t{password}\t{last}")


@users_cli.command("disable")
@click.option("--email", required=True)
def disable(email: str) -> None:
    """Disable an account: its sessions end at once and it cannot log in."""
    with context.db().session() as s:
        user = _user(s, email)
        if accounts.set_active(user, False, context.clock()()):
            _record(s, log.USER_DISABLE, user.email)
        click.echo(f"{user.email}: disabled")


@users_cli.command("enable")
@click.option("--email", required=True)
def enable(email: str) -> None:
    """Enable a disabled account again."""
    with context.db().session() as s:
        user = _user(s, email)
        if accounts.set_active(user, True, context.clock()()):
            _record(s, log.USER_ENABLE, user.email)
        click.echo(f"{user.email}: enabled")


@users_cli.command("reset")
@click.option("--email", required=True)
def reset(email: str) -> None:
    """End the password and every session now; print a one-time link to set a new one."""
    settings = context.settings()
    with context.db().session() as s:
        user = _user(s, email)
        raw = accounts.reset(s, user, now=context.clock()(), hours=settings.config.console.password_link_hours,
                             created_by=cli_actor())
        _record(s, log.USER_RESET, user.email)
        email = user.email
    _print_link(email, raw)


@users_cli.command("demo")
def demo() -> None:
    """Development only: create (or restore) the demo accounts and print them with their passwords."""
    settings, now = context.settings(), context.clock()()
    if settings.environment == "production":
        _fail("demo accounts are for development only (DDCI_ENV=production)")
    units = {u.code for u in settings.config.units}
    lines = []
    with context.db().session() as s:
        for email, unit_code, role, password in DEMO_ACCOUNTS:
            unit_code = unit_code or settings.config.standing_office
            user = accounts.by_email(s, email)
            if user is None:
                user = accounts.create_user(s, email=email, unit_code=unit_code, role=role, units=units, now=now)
                _record(s, log.USER_CREATE, email, {"unit": unit_code, "role": role, "demo": True})
            accounts.update_user(s, user, unit_code=unit_code, role=role, units=units, now=now)
            accounts.set_active(user, True, now)
            user.password_hash = passwords.hash_password(password)
            lines.append(f"    {accounts.ROLE_NAMES[role]:<22} {email:<26} {password:<22} ({unit_code})")
    click.echo(f"  Console demo accounts (development only), log in at {settings.config.app.base_url}/login :")
    for line in lines:
        click.echo(line)
