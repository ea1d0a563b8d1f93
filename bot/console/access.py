"""Who may open what: every console route needs a logged-in user unless marked @public;
@roles limits a route to some roles; a session unused for `console.session_idle_minutes`
ends (read on the app's clock, so tests drive it).

A page author writes nothing for the login check (the console blueprint's guard runs before
every one of its routes, including routes added later), adds @roles(...) when a page is not
for every role, and loads inquiries through bot/console/scope.py.
"""
from __future__ import annotations

import hmac
from functools import wraps
from typing import Callable, Optional
from urllib.parse import urlsplit

from flask import (Response, current_app, flash, redirect, render_template, render_template_string, request, session,
                   url_for)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from bot import context
from bot.console.audit import audit
from store import User
from store.audit import SESSION_EXPIRED

SEEN = "seen"  # session key: when this session was last used (epoch seconds on the app clock)
STAFF_ROLES = ("standing_office", "admin")  # see every inquiry

login_manager = LoginManager()
# a session belongs to the browser that logged in: Flask-Login ends it when the client's
# address or user agent changes (a copied cookie used elsewhere is worthless)
login_manager.session_protection = "strong"
login_manager.login_view = "console.auth.login"


class ConsoleUser(UserMixin):
    """The logged-in person as plain values (never an ORM row across requests)."""

    def __init__(self, id: int, email: str, unit_code: str, role: str, nonce: str):
        self.id, self.email, self.unit_code, self.role, self.nonce = id, email, unit_code, role, nonce

    @classmethod
    def of(cls, user: User) -> "ConsoleUser":
        return cls(user.id, user.email, user.unit_code, user.role, user.session_nonce)

    def get_id(self) -> str:
        # the nonce makes every session of the account end when it changes (logout, password, disable)
        return f"{self.id}:{self.nonce}"

    @property
    def sees_all(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@login_manager.user_loader
def _load(session_id: str) -> Optional[ConsoleUser]:
    user_id, _, nonce = session_id.partition(":")
    if not user_id.isdigit() or not nonce:
        return None
    with context.db().session() as s:
        user = s.get(User, int(user_id))
        if user is None or not user.active or not hmac.compare_digest(user.session_nonce, nonce):
            return None
        return ConsoleUser.of(user)


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


@login_manager.unauthorized_handler
def _unauthorized() -> Response:
    """To the login page, remembering where the person was going. An htmx fragment asks the
    browser to go there (HX-Redirect) with the page it was on, not the fragment's URL."""
    if _is_htmx():
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        target = url_for("console.auth.login", next=safe_next(current.path + (f"?{current.query}" if current.query else "")))
        return Response("", 401, {"HX-Redirect": target})
    here = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("console.auth.login", next=here) if here and here != "/" else url_for("console.auth.login"))


def safe_next(target: Optional[str]) -> str:
    """`target` when it is a path of this site, else the home page: after login nobody is
    sent to another host (`//evil.example`, `https://…`, `/\\evil.example`)."""
    home = url_for("console.home.index")
    if not target or not target.startswith("/") or target.startswith("//"):
        return home
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return home  # browsers read "/\\host" as "//host"; control characters split headers
    return target


def htmx_message(message: str, status: int) -> Response:
    """An error for an htmx request: shown in the page's message area (#messages), not swapped
    into the part the request meant to replace."""
    html = render_template_string('<p class="flash error" role="alert">{{ message }}</p>', message=message)
    return Response(html, status, {"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"})


def public(view: Callable) -> Callable:
    """Open to anyone (the login page and the one-time link pages)."""
    view.public = True
    return view


def roles(*allowed: str) -> Callable:
    """Only these roles; anyone else gets 403 (the page exists, it is not theirs to use)."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if current_user.role not in allowed:
                message = "Trang này không dành cho vai trò của bạn."
                if _is_htmx():
                    return htmx_message(message, 403)
                return render_template("console/error.html", code=403, message=message), 403
            return view(*args, **kwargs)

        wrapped.roles = allowed
        return wrapped

    return decorate


def guard():
    """The console blueprint's before_request: login required unless @public; idle expiry."""
    endpoint = request.endpoint or ""
    view = current_app.view_functions.get(endpoint)
    if endpoint == "console.static" or getattr(view, "public", False):
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    now = context.clock()().timestamp()
    idle = context.settings().config.console.session_idle_minutes * 60
    seen = session.get(SEEN)
    if not isinstance(seen, (int, float)) or now - seen > idle:
        with context.db().session() as s:
            audit(s, SESSION_EXPIRED, object_type="user", object_id=current_user.email)
        logout_user()
        session.clear()
        flash("Phiên làm việc đã hết hạn vì lâu không thao tác. Vui lòng đăng nhập lại.", "info")
        return login_manager.unauthorized()
    session[SEEN] = int(now)
    return None


def start_session(user: ConsoleUser) -> None:
    """A fresh session for `user` (nothing of the anonymous one is kept: no fixation)."""
    session.clear()
    login_user(user)
    session[SEEN] = int(context.clock()().timestamp())
