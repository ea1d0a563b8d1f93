"""The console's forms (Flask-WTF): every POST form carries the CSRF token (FlaskForm does it;
templates render `form.hidden_tag()` or `csrf_token()`); GET filter forms have none.

Messages are Vietnamese, given on each validator (WTForms' own are English).
"""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from bot.console.accounts import EMAIL, ROLE_NAMES, ROLES

REQUIRED = "Vui lòng nhập trường này."


class LoginForm(FlaskForm):
    # a phone shows its e-mail keyboard and a password manager fills both (type stays text: a
    # browser's own e-mail check would refuse what the server answers in Vietnamese)
    email = StringField("Email", validators=[DataRequired(REQUIRED), Length(max=255, message="Tối đa 255 ký tự.")],
                        render_kw={"autocomplete": "username", "inputmode": "email", "autocapitalize": "none",
                                   "spellcheck": "false"})
    password = PasswordField("Mật khẩu", validators=[DataRequired(REQUIRED), Length(max=1024, message="Tối đa 1024 ký tự.")],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class PasswordSetForm(FlaskForm):
    new = PasswordField("Mật khẩu mới", validators=[DataRequired(REQUIRED), Length(max=1024, message="Tối đa 1024 ký tự.")])
    confirm = PasswordField("Nhập lại mật khẩu mới",
                            validators=[DataRequired(REQUIRED), EqualTo("new", "Hai mật khẩu không giống nhau.")])


class PasswordChangeForm(PasswordSetForm):
    current = PasswordField("Mật khẩu hiện tại", validators=[DataRequired(REQUIRED), Length(max=1024, message="Tối đa 1024 ký tự.")])


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
    email = StringField("Email", validators=[DataRequired(REQUIRED), Length(max=255, message="Tối đa 255 ký tự."),
                                             Regexp(EMAIL.pattern, message="Email không hợp lệ.")])


class _GetForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing


# The search box of the queue, triage and the inquiries (cases.worklists.search_clause)
SEARCH_LABEL = "Tìm theo mã, nội dung, tên, email hoặc số điện thoại"
SEARCH_HINT = "có dấu hoặc không dấu, vd. dat dai, 0987.654.321"


class SearchForm(_GetForm):
    q = StringField(SEARCH_LABEL, validators=[Optional(), Length(max=200, message="Tối đa 200 ký tự.")],
                    render_kw={"placeholder": SEARCH_HINT})


class AuditFilterForm(_GetForm):
    actor = StringField("Người thực hiện", validators=[Optional(), Length(max=255, message="Tối đa 255 ký tự.")])
    action = StringField("Hành động", validators=[Optional(), Length(max=64, message="Tối đa 64 ký tự.")])
    object_id = StringField("Đối tượng (mã phản ánh, email…)", validators=[Optional(), Length(max=255, message="Tối đa 255 ký tự.")])
    address = StringField("Địa chỉ IP", validators=[Optional(), Length(max=64, message="Tối đa 64 ký tự.")])
    date_from = StringField("Từ ngày (dd/mm/yyyy)", validators=[Optional(), Length(max=10, message="Tối đa 10 ký tự.")])
    date_to = StringField("Đến ngày (dd/mm/yyyy)", validators=[Optional(), Length(max=10, message="Tối đa 10 ký tự.")])


# ---- the inquiry's actions (bot/console/views/actions.py) ------------------------------------
class _Vietnamese:
    """WTForms' own messages (it ships no Vietnamese catalogue) for the few validators used."""

    MESSAGES = {"Not a valid choice.": "Lựa chọn không hợp lệ.",
                "'%(value)s' is not a valid choice for this field.": "“%(value)s” không phải lựa chọn hợp lệ.",
                "'%(value)s' are not valid choices for this field.": "“%(value)s” không phải lựa chọn hợp lệ.",
                "Invalid Choice(s): one or more data inputs could not be coerced.": "Lựa chọn không hợp lệ.",
                "Invalid Choice: could not coerce.": "Lựa chọn không hợp lệ.",
                "Choices cannot be None.": "Lựa chọn không hợp lệ."}

    def gettext(self, text: str) -> str:
        return self.MESSAGES.get(text, text)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


class ConsoleForm(FlaskForm):
    class Meta:
        def get_translations(self, form):
            return _Vietnamese()


TEXT_MAX = 8000  # cases.answers.MAX_TEXT: a longer answer is a letter, sent another way
REASON_MAX = 2000
LANGUAGES = [("vi", "Tiếng Việt"), ("en", "Tiếng Anh")]
HOW = [("phone", "Điện thoại"), ("email", "Email"), ("in_person", "Trực tiếp"), ("letter", "Văn bản"),
       ("other", "Cách khác")]


def _text(label: str, what: str = "nội dung") -> TextAreaField:
    return TextAreaField(label, validators=[DataRequired(f"Vui lòng nhập {what}."),
                                            Length(max=TEXT_MAX, message=f"Tối đa {TEXT_MAX} ký tự.")])


def _reason(label: str = "Lý do") -> TextAreaField:
    return TextAreaField(label, validators=[DataRequired("Vui lòng nêu lý do."),
                                            Length(max=REASON_MAX, message=f"Tối đa {REASON_MAX} ký tự.")])


class DraftForm(ConsoleForm):
    text = _text("Nội dung trả lời", "nội dung trả lời")
    language = SelectField("Ngôn ngữ", choices=LANGUAGES, validators=[DataRequired(REQUIRED)])


class EditForm(ConsoleForm):
    text = _text("Nội dung trả lời", "nội dung trả lời")


class ReturnForm(ConsoleForm):
    reason = _reason("Lý do trả lại")


class ReasonForm(ConsoleForm):
    reason = _reason()


class InputForm(ConsoleForm):
    text = _text("Ý kiến của đơn vị phối hợp", "ý kiến")


class RecordForm(ConsoleForm):
    """An answer given another way: who gave it, how, when (local date and time), what."""

    by = StringField("Người trả lời", validators=[DataRequired("Vui lòng nhập người trả lời."), Length(max=128, message="Tối đa 128 ký tự.")])
    how = SelectField("Cách trả lời", choices=HOW, validators=[DataRequired(REQUIRED)])
    day = StringField("Ngày (dd/mm/yyyy)", validators=[DataRequired("Vui lòng nhập ngày."), Length(max=10, message="Tối đa 10 ký tự.")])
    time = StringField("Giờ (HH:MM)", validators=[DataRequired("Vui lòng nhập giờ."), Length(max=5, message="Tối đa 5 ký tự.")])
    text = _text("Nội dung đã trả lời (tóm tắt)")


class AssignForm(ConsoleForm):
    unit = SelectField("Đơn vị chủ trì", validators=[DataRequired(REQUIRED)])
    domain = SelectField("Lĩnh vực", validators=[Optional()])
    reason = _reason()


class CoordinateForm(ConsoleForm):
    units = SelectMultipleField("Đơn vị phối hợp", validators=[DataRequired("Chọn ít nhất một đơn vị.")])
    reason = _reason()


class RemindForm(ConsoleForm):
    unit = SelectField("Nhắc đơn vị", validators=[DataRequired(REQUIRED)])
    reason = _reason()


class QueueFilterForm(ConsoleForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    state = SelectField("Tình trạng", validators=[Optional()])
    role = SelectField("Vai trò", validators=[Optional()])
    domain = SelectField("Lĩnh vực", validators=[Optional()])
    unit = SelectField("Đơn vị", validators=[Optional()])
    q = StringField(SEARCH_LABEL, validators=[Optional(), Length(max=200, message="Tối đa 200 ký tự.")],
                    render_kw={"placeholder": SEARCH_HINT})


# the forms of the inquiry page, by the key that is also their prefix (field names "draft-text",
# "return-reason", ...: several forms on one page need distinct ids)
CASE_FORMS = {"draft": DraftForm, "edit": EditForm, "return": ReturnForm, "record": RecordForm, "input": InputForm,
              "complex": ReasonForm, "send_back": ReasonForm, "assign": AssignForm, "coordinate": CoordinateForm,
              "remind": RemindForm}
