"""Helpers for the console's tests: accounts with passwords, real inquiries opened through
the lifecycle (Casework) without the NLU model, logging in through the real form."""
from __future__ import annotations

import re
from dataclasses import dataclass

from bot import context, runtime
from bot.console import accounts, passwords
from cases.lifecycle import Intake
from nlu.classifier import Classification
from store import InboxEvent
from tests.conftest import FIXTURE_PAGE

PASSWORD = "mật khẩu đủ dài 2026"


@dataclass(frozen=True)
class Person:
    key: str
    email: str
    unit: str
    role: str
    password: str = PASSWORD


# two units, the standing office, an admin (and a head of unit A)
PEOPLE = {
    "officer_a": Person("officer_a", "canbo@soxd.example", "SO_XD", "officer"),
    "head_a": Person("head_a", "lanhdao@soxd.example", "SO_XD", "head"),
    "officer_b": Person("officer_b", "canbo@thue.example", "THUE_QN", "officer"),
    "office": Person("office", "thuongtruc@bxt.example", "BXT", "standing_office"),
    "admin": Person("admin", "quantri@bxt.example", "BXT", "admin"),
}


def add_user(app, person: Person, *, password: str | None = None) -> int:
    with app.app_context(), context.db().session() as s:
        user = accounts.create_user(s, email=person.email, unit_code=person.unit, role=person.role,
                                    units={u.code for u in context.settings().config.units}, now=context.clock()())
        user.password_hash = passwords.hash_password(password or person.password)
        return user.id


def open_inquiry(app, text: str, intent: str, *, sender: str = "900000000000001") -> str:
    """An inquiry opened by the real lifecycle, classified as `intent` with high confidence."""
    with app.app_context():
        clock = context.clock()
        casework = runtime.casework(context.settings(), context.db(), clock)
        with context.db().session() as s:
            n = s.query(InboxEvent).count()
            event = InboxEvent(dedup_key=f"console-test-{n}", page_id=FIXTURE_PAGE, kind="message", sender_id=sender,
                               payload={"event": {"message": {"text": text}}}, received_at=clock(), status="done")
            s.add(event)
            s.flush()
            intake = Intake(event_id=event.id, channel="messenger", reply_channel="messenger", page_id=FIXTURE_PAGE,
                            sender_id=sender, text=text, language="vi", received_at=clock(), sent_at=clock(),
                            reply_to={"id": sender})
            opened = casework.open_inquiry(s, intake, Classification(text=text, intent=intent, confidence=0.99,
                                                                     needs_review=False))
        return opened.code


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client, person: Person | str, password: str | None = None, *, next: str = "", environ=None):
    """POST the real login form (with the token from the login page); returns the response."""
    email = person.email if isinstance(person, Person) else person
    page = client.get("/login", environ_base=environ or {})
    token = csrf_from(page.get_data(as_text=True))
    pw = password if password is not None else (person.password if isinstance(person, Person) else PASSWORD)
    return client.post("/login", data={"csrf_token": token, "email": email, "password": pw, "next": next},
                       environ_base=environ or {})


def page_token(client, path: str = "/") -> str:
    return csrf_from(client.get(path).get_data(as_text=True))
