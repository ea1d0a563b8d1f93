"""Log in, log out, change the password, set it through a one-time link.

Login answers the same message, with the same work done (a real argon2 verification), for an
unknown e-mail, an account without a password yet and a wrong password. After too many
failures (bot/console/throttle.py) it refuses at once with the minutes to wait (429).
"""
from __future__ import annotations

import math
from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from bot import context
from bot.console import accounts
from bot.console.access import ConsoleUser, public, safe_next, start_session
from bot.console.audit import audit
from bot.console.forms import ActionForm, LoginForm, PasswordChangeForm, PasswordSetForm
from bot.console.throttle import ACCOUNT, LoginThrottle
from store import User
from store import audit as log

bp = Blueprint("auth", __name__)
BAD_LOGIN = "Email hoặc mật khẩu không đúng."
LINK_KEY = "password_link"  # session key: the one-time token, kept out of the URL after the first visit


def throttle() -> LoginThrottle:
    c = context.settings().config.console
    return LoginThrottle(timedelta(minutes=c.login_window_minutes), c.login_max_failures_per_account,
                         c.login_max_failures_per_address)


def _wait_message(wait: timedelta) -> str:
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    return (f"Đã có quá nhiều lần đăng nhập không thành công. Vui lòng thử lại sau {minutes} phút "
            "hoặc liên hệ quản trị viên.")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        if current_user.is_authenticated:
            return redirect(safe_next(form.next.data))
        return render_template("console/login.html", form=form)
    if not form.validate_on_submit():
        return render_template("console/login.html", form=form)
    email, now = accounts.normalize_email(form.email.data), context.clock()()
    with context.db().session() as s:
        wait = throttle().retry_after(s, email=email, address=request.remote_addr, now=now)
        if wait is not None:
            audit(s, log.LOGIN_THROTTLED, object_type=ACCOUNT, object_id=email, actor=email)
            return render_template("console/login.html", form=form, error=_wait_message(wait)), 429
        result = accounts.authenticate(s, email, form.password.data, now)
        wait = throttle().decide(s, email=email, address=request.remote_addr, now=now)
        if wait is not None:  # failures recorded meanwhile by attempts sent at the same time
            if result.user is not None:
                s.expire(result.user)  # not logged in: its login time and any rehash are not kept
            audit(s, log.LOGIN_THROTTLED, object_type=ACCOUNT, object_id=email, actor=email)
            return render_template("console/login.html", form=form, error=_wait_message(wait)), 429
        if result.reason == "disabled":
            audit(s, log.LOGIN_REFUSED, object_type=ACCOUNT, object_id=email, actor=email, details={"reason": "disabled"})
            return render_template("console/login.html", form=form,
                                   error="Tài khoản này đã bị khóa. Vui lòng liên hệ quản trị viên."), 403
        if result.user is None:
            audit(s, log.LOGIN_FAILED, object_type=ACCOUNT, object_id=email, actor=email,
                  details={"reason": result.reason})
            return render_template("console/login.html", form=form, error=BAD_LOGIN), 200
        user = ConsoleUser.of(result.user)
        audit(s, log.LOGIN_OK, object_type=ACCOUNT, object_id=email, actor=email, actor_id=user.id)
    start_session(user)
    return redirect(safe_next(form.next.data))


@bp.post("/logout")
def logout():
    form = ActionForm()
    if form.validate_on_submit():
        with context.db().session() as s:
            row = s.get(User, current_user.id)
            accounts.end_sessions(row, context.clock()())
            audit(s, log.LOGOUT, object_type="user", object_id=current_user.email)
    logout_user()
    session.clear()
    flash("Bạn đã đăng xuất.", "info")
    return redirect(url_for("console.auth.login"))


@bp.route("/password", methods=["GET", "POST"])
def change_password():
    form = PasswordChangeForm()
    if request.method == "POST" and form.validate_on_submit():
        now, email = context.clock()(), current_user.email
        with context.db().session() as s:
            wait = throttle().retry_after(s, email=email, address=request.remote_addr, now=now)
            if wait is not None:
                audit(s, log.LOGIN_THROTTLED, object_type=ACCOUNT, object_id=email, details={"where": "password"})
                return render_template("console/password_change.html", form=form, error=_wait_message(wait)), 429
            row = s.get(User, current_user.id)
            try:
                accounts.change_password(s, row, form.current.data, form.new.data, now)
            except accounts.WrongPassword as exc:  # guessing it counts like a failed login
                error, wrong = str(exc), True
            except accounts.AccountError as exc:
                error, wrong = str(exc), False
            else:
                error, wrong = None, False
            wait = throttle().decide(s, email=email, address=request.remote_addr, now=now)
            if wait is not None:  # failures recorded meanwhile by guesses sent at the same time
                s.expire(row)  # the new password, if this one was right, is not kept
                audit(s, log.LOGIN_THROTTLED, object_type=ACCOUNT, object_id=email, details={"where": "password"})
                return render_template("console/password_change.html", form=form, error=_wait_message(wait)), 429
            if wrong:
                audit(s, log.LOGIN_FAILED, object_type=ACCOUNT, object_id=email,
                      details={"reason": "wrong_password", "where": "password"})
            elif error is None:
                audit(s, log.PASSWORD_CHANGE, object_type="user", object_id=email)
                user = ConsoleUser.of(row)
                error = None
        if error is None:
            start_session(user)  # this session goes on; every other one of the account ended
            flash("Đã đổi mật khẩu. Các phiên đăng nhập khác của tài khoản đã kết thúc.", "success")
            return redirect(url_for("console.home.index"))
        return render_template("console/password_change.html", form=form, error=error), 200
    return render_template("console/password_change.html", form=form)


@bp.get("/password/set/<token>")
@public
def open_link(token: str):
    """The link from `flask users create|reset`: checked, then kept in the session and the
    browser sent to a URL without it (out of the history and of any Referer)."""
    with context.db().session() as s:
        target = accounts.find_link(s, token, context.clock()())
    if target is None:
        return _bad_link()
    session[LINK_KEY] = token
    return redirect(url_for("console.auth.set_password"), 303)


def _bad_link():
    session.pop(LINK_KEY, None)
    return render_template("console/message.html", title="Liên kết không dùng được",
                           message="Liên kết đặt mật khẩu không hợp lệ, đã được dùng hoặc đã hết hạn. "
                                   "Hãy xin quản trị viên một liên kết mới."), 404


@bp.route("/password/set", methods=["GET", "POST"])
@public
def set_password():
    token, now = session.get(LINK_KEY), context.clock()()
    with context.db().session() as s:
        target = accounts.find_link(s, token, now) if token else None
    if target is None:
        return _bad_link()
    form = PasswordSetForm()
    if request.method == "POST" and form.validate_on_submit():
        with context.db().session() as s:
            try:
                user = accounts.set_password_with_link(s, token, form.new.data, now)
            except accounts.AccountError as exc:
                error = str(exc)
            else:
                audit(s, log.PASSWORD_SET, object_type="user", object_id=user.email, actor=user.email,
                      actor_id=user.id, details={"purpose": target.purpose})
                error = None
        if error is None:
            logout_user()
            session.clear()
            flash("Đã đặt mật khẩu. Hãy đăng nhập bằng mật khẩu mới.", "success")
            return redirect(url_for("console.auth.login"))
        return render_template("console/password_set.html", form=form, email=target.email, error=error), 200
    return render_template("console/password_set.html", form=form, email=target.email)
