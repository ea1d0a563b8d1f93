"""The officers' console: server-rendered pages (Jinja, htmx vendored in static/) inside the
web process, behind login, with scoping by unit on the server.

What a page author gets (README "The console"):
- every route of the console blueprint needs a logged-in user (access.guard), unless marked
  @public; @roles("admin", ...) limits it further (403);
- inquiries are loaded through scope.load_inquiry / scope.visible (404 when not the user's);
- every POST (forms and htmx) must carry the CSRF token (Flask-WTF, app-wide; 400 without);
  base.html sends it on every htmx request (hx-headers on <body>);
- audit.audit(s, action, ...) records a change in the same transaction;
- the admins' NLU pages (views/nlu_inbox.py, views/nlu_models.py) call tuning/ through bot/console/nlu.py;
- tests/test_console_routes.py walks every route: a new route needs one line there.

Decisions: the session is Flask's signed cookie, HttpOnly, SameSite=Lax, Secure outside
development (then named with the __Host- prefix, so no other host or path can set it); it ends
after `console.session_idle_minutes` without a request (read on the app's clock) and when the
account's nonce changes (logout, password, reset, disable). Console responses carry a strict
Content-Security-Policy (scripts and styles only from this site, no inline code, no frames)
and are not cached.
"""
from __future__ import annotations

from typing import Iterable

from flask import Blueprint, Flask, current_app, make_response, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect

from bot.config import Settings
from bot.console import access, formatting, tuning_texts
from bot.console.views import (actions, admin, audit, auth, home, inquiries, nlu_inbox, nlu_models, overview,
                               queue, triage)

HTMX = "htmx-2.0.11.min.js"  # vendored from npm htmx.org 2.0.11 (0BSD), see static/README.md
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

HSTS_SECONDS = 365 * 24 * 3600  # a year: browsers keep to HTTPS for the console's host
csrf = CSRFProtect()


def _blueprint() -> Blueprint:
    console = Blueprint("console", __name__, template_folder="templates", static_folder="static",
                        static_url_path="/static")
    console.before_request(access.guard)
    for child in (auth.bp, home.bp, queue.bp, triage.bp, inquiries.bp, actions.bp, overview.bp, admin.bp, audit.bp,
                  nlu_inbox.bp, nlu_models.bp):
        console.register_blueprint(child)

    console.after_request(secure_headers)
    return console


def secure_headers(response):
    """The console's headers: on its own responses (after_request) and on the error pages the
    app renders with the console's layout for any URL (404, 405, a refused CSRF token), which
    show the person's e-mail and the page's token. `Strict-Transport-Security` outside
    development, where the session cookie is already sent over HTTPS only."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    # the one-time link page must not leak its URL; other pages only to this site
    response.headers.setdefault("Referrer-Policy", "no-referrer" if request.endpoint == "console.auth.open_link"
                                else "same-origin")
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers.setdefault("Strict-Transport-Security", f"max-age={HSTS_SECONDS}")
    return response


def _error(code: int, message: str):
    def handler(exc):
        if request.headers.get("HX-Request") == "true":
            response = make_response(access.htmx_message(message, code))
        else:
            response = make_response(render_template("console/error.html", code=code, message=message), code)
        return secure_headers(response)

    return handler


def init_app(app: Flask, settings: Settings, exempt_blueprints: Iterable[str] = ()) -> None:
    """Sessions, CSRF for every POST of the app except the blueprints named (a channel's
    webhook is signed by its platform and has no browser session to forge), login, pages."""
    secure = not settings.is_development
    app.secret_key = settings.secret_key
    app.config.update({
        "SESSION_COOKIE_NAME": "__Host-ddci_session" if secure else "ddci_session",
        "SESSION_COOKIE_SECURE": secure, "SESSION_COOKIE_HTTPONLY": True, "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure, "REMEMBER_COOKIE_HTTPONLY": True, "REMEMBER_COOKIE_SAMESITE": "Lax",
        # the token lives as long as the session (which ends on idleness); CSRF expiry by the
        # wall clock would only lose a form an officer spent an hour writing
        "WTF_CSRF_TIME_LIMIT": None,
    })
    csrf.init_app(app)
    for name in exempt_blueprints:
        csrf.exempt(app.blueprints[name])
    access.login_manager.init_app(app)
    app.register_blueprint(_blueprint())
    units = {u.code: u.name for u in settings.config.units}
    app.jinja_env.filters.update(formatting.filters(settings.config.calendar.get("timezone", "Asia/Ho_Chi_Minh"),
                                                    units))
    app.jinja_env.filters.update(tuning_texts.filters({p.id: p.name for p in settings.config.pages}))
    app.jinja_env.globals.update(htmx_file=HTMX)
    app.register_error_handler(CSRFError, _error(400, "Biểu mẫu đã hết hạn hoặc không hợp lệ. Vui lòng tải lại trang "
                                                      "và thử lại."))
    app.register_error_handler(404, _error(404, "Không tìm thấy trang hoặc phản ánh này."))
    app.register_error_handler(405, _error(405, "Thao tác này không được phép theo cách đó."))
