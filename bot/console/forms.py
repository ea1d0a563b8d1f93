"""The console's forms (Flask-WTF): every POST form carries the CSRF token (FlaskForm does it;
templates render `form.hidden_tag()` or `csrf_token()`); GET filter forms have none.

Messages are Vietnamese, given on each validator (WTForms' own are English).
"""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from bot.console.accounts import EMAIL, ROLE_NAMES, ROLES

REQUIRED = "Vui lòng nhập trường này."


class LoginForm(FlaskForm):
    email = StringField("Email", validators=[DataRequired(REQUIRED), Length(max=255)])
    password = PasswordField("Mật khẩu", validators=[DataRequired(REQUIRED), Length(max=1024)])
    next = HiddenField()


class PasswordSetForm(FlaskForm):
    new = PasswordField("Mật khẩu mới", validators=[DataRequired(REQUIRED), Length(max=1024)])
    confirm = PasswordField("Nhập lại mật khẩu mới",
                            validators=[DataRequired(REQUIRED), EqualTo("new", "Hai mật khẩu không giống nhau.")])


class PasswordChangeForm(PasswordSetForm):
    current = PasswordField("Mật khẩu hiện tại", validators=[DataRequired(REQUIRED), Length(max=1024)])


class ActionForm(FlaskForm):
    """A button that changes something: nothing but the CSRF token."""


def _unit_choices(units):
    return [(code, f"{name} ({code})") for code, name in units]


class UserForm(FlaskForm):
    unit = SelectField("Đơn vị", validators=[DataRequired(REQUIRED)])
    role = SelectField("Vai trò", choices=[(r, ROLE_NAMES[r]) for r in ROLES], validators=[DataRequired(REQUIRED)])

    def with_units(self, units) -> "UserForm":
        self.unit.choices = _unit_choices(units)
        return self


class UserCreateForm(UserForm):
    email = StringField("Email", validators=[DataRequired(REQUIRED), Length(max=255),
                                             Regexp(EMAIL.pattern, message="Email không hợp lệ.")])


class _GetForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing


class SearchForm(_GetForm):
    q = StringField("Tìm theo mã hoặc nội dung", validators=[Optional(), Length(max=200)])


class AuditFilterForm(_GetForm):
    actor = StringField("Người thực hiện", validators=[Optional(), Length(max=255)])
    action = StringField("Hành động", validators=[Optional(), Length(max=64)])
    object_id = StringField("Đối tượng (mã phản ánh, email…)", validators=[Optional(), Length(max=255)])
    address = StringField("Địa chỉ IP", validators=[Optional(), Length(max=64)])
    date_from = StringField("Từ ngày (dd/mm/yyyy)", validators=[Optional(), Length(max=10)])
    date_to = StringField("Đến ngày (dd/mm/yyyy)", validators=[Optional(), Length(max=10)])
