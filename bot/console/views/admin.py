"""Admin pages: accounts and roles (create, edit, disable / enable, a new one-time link), and
the units' e-mails and pages as configured.

Units and pages are shown read-only: config.yml is the deployment's truth (validated at
start by every process, reviewed like code, the same for web, worker and scheduler); a copy
editable in the console would drift from it and would need its own validation and history.
The page says where to change them.

A one-time link is shown once to the admin who asked for it (as `flask users create` prints
it) and never stored in clear; the admin hands it to the person.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from bot import context
from bot.console import accounts
from bot.console.access import roles
from bot.console.audit import audit
from bot.console.forms import ActionForm, UserCreateForm, UserForm
from store import User
from store import audit as log

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _units() -> list[tuple[str, str]]:
    return [(u.code, u.name) for u in context.settings().config.units]


def _link_hours() -> int:
    return context.settings().config.console.password_link_hours


def _show_link(user_email: str, raw: str, purpose: str):
    url = accounts.link_url(context.settings().config.app.base_url, raw)
    return render_template("console/admin_link.html", email=user_email, url=url, purpose=purpose,
                           hours=_link_hours())


def _user_or_404(s, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users", methods=["GET", "POST"])
@roles("admin")
def users():
    form = UserCreateForm().with_units(_units())
    error = None
    if request.method == "POST" and form.validate_on_submit():
        now = context.clock()()
        with context.db().session() as s:
            try:
                user = accounts.create_user(s, email=form.email.data, unit_code=form.unit.data, role=form.role.data,
                                            units=dict(_units()), now=now)
            except accounts.AccountError as exc:
                error = str(exc)
            else:
                raw = accounts.issue_link(s, user, purpose="invite", now=now, hours=_link_hours(),
                                          created_by=current_user.email)
                audit(s, log.USER_CREATE, object_type="user", object_id=user.email,
                      details={"unit": user.unit_code, "role": user.role})
                return _show_link(user.email, raw, "invite")
    with context.db().session() as s:
        rows = s.execute(select(User).order_by(User.unit_code, User.email)).scalars().all()
    return render_template("console/admin_users.html", form=form, users=rows, error=error, action=ActionForm())


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles("admin")
def edit_user(user_id: int):
    with context.db().session() as s:
        user = _user_or_404(s, user_id)
        form = UserForm(data={"unit": user.unit_code, "role": user.role} if request.method == "GET" else None)
        form.with_units(_units())
        if request.method == "POST" and form.validate_on_submit():
            if user.id == current_user.id and form.role.data != "admin":
                flash("Bạn không thể tự bỏ quyền quản trị của mình.", "error")
                return redirect(url_for("console.admin.edit_user", user_id=user_id))
            changed = accounts.update_user(s, user, unit_code=form.unit.data, role=form.role.data,
                                           units=dict(_units()), now=context.clock()())
            if changed:
                audit(s, log.USER_UPDATE, object_type="user", object_id=user.email, details=changed)
            flash(f"Đã lưu tài khoản {user.email}.", "success")
            return redirect(url_for("console.admin.users"))
        return render_template("console/admin_user_edit.html", form=form, user=user)


def _set_active(user_id: int, active: bool):
    message = None  # (the CSRF token was checked app-wide before we got here)
    with context.db().session() as s:
        user = _user_or_404(s, user_id)
        if not active and user.id == current_user.id:
            message = "Bạn không thể tự khóa tài khoản của mình."
        elif accounts.set_active(user, active, context.clock()()):
            audit(s, log.USER_ENABLE if active else log.USER_DISABLE, object_type="user", object_id=user.email)
        if request.headers.get("HX-Request") == "true":  # htmx swaps the row in place
            return render_template("console/_user_row.html", user=user, action=ActionForm(), message=message)
    if message:
        flash(message, "error")
    return redirect(url_for("console.admin.users"))


@bp.post("/users/<int:user_id>/disable")
@roles("admin")
def disable_user(user_id: int):
    return _set_active(user_id, False)


@bp.post("/users/<int:user_id>/enable")
@roles("admin")
def enable_user(user_id: int):
    return _set_active(user_id, True)


@bp.post("/users/<int:user_id>/reset")
@roles("admin")
def reset_user(user_id: int):
    with context.db().session() as s:
        user = _user_or_404(s, user_id)
        raw = accounts.reset(s, user, now=context.clock()(), hours=_link_hours(), created_by=current_user.email)
        audit(s, log.USER_RESET, object_type="user", object_id=user.email)
        email = user.email
    return _show_link(email, raw, "reset")


@bp.get("/units")
@roles("admin")
def units():
    settings = context.settings()
    config = settings.config
    return render_template("console/admin_units.html", units=config.units, pages=config.pages,
                           standing_office=config.standing_office, config_path=settings.config_path)
