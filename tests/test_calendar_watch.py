"""Ahead of the calendar (issue 11, point 10): from 1 December, while next year's days off are
not declared, the admins get one e-mail a week (scheduler/calendar_watch.py), on a real
APScheduler job store driven by the test clock, through a real SMTP server on loopback.

config.yml declares 2025 and 2026; Tue 01/12/2026 is the first day of December.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import yaml

from tests.conftest import REPO, VN

ADMIN = "quantri@ddci.quangninh.example"  # config.yml `admins`
SUBJECT = "Chưa khai báo lịch nghỉ lễ, nghỉ bù năm 2027"


def vn(*args) -> datetime:
    return datetime(*args, tzinfo=VN)


def calendar_with(declared):
    return {**yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))["calendar"], "declared_years": declared}


@pytest.fixture
def services(clock):
    made = []

    def make(app, holder="scheduler-a"):
        from bot import context, runtime

        with app.app_context():
            service = runtime.reminder_service(context.settings(), context.db(), clock, holder=holder)
        service.start(paused=True)
        made.append(service)
        return service

    yield make
    for service in made:
        service.shutdown()


def admin_mail(smtp) -> list[dict]:
    return [m for m in smtp.messages if SUBJECT in m["subject"]]


def beat(service):
    service.tick()
    service.run_due()


def test_the_admins_are_told_once_a_week_from_the_first_of_december(make_app, services, smtp, clock):
    app = make_app()
    clock.set(vn(2026, 11, 30, 9, 0))
    first = services(app, "first")
    beat(first)
    sent_at = []
    day = vn(2026, 11, 30, 7, 0)
    while day < vn(2026, 12, 15, 0, 0):  # two weeks and a bit, at 07:00, 08:00, 08:30, 14:00, 18:00 daily
        for hour, minute in ((7, 0), (8, 0), (8, 30), (14, 0), (18, 0)):
            clock.set(day.replace(hour=hour, minute=minute))
            beat(first)
            sent_at += [clock()] * (len(admin_mail(smtp)) - len(sent_at))
        if day.date() == vn(2026, 12, 2).date():  # a restart mid-week, and a second instance standing by
            first.shutdown()
            clock.set(day.replace(hour=19))
            first = services(app, "restarted")
            second = services(app, "standby")
            beat(first)
            beat(second)
        day += timedelta(days=1)
    # Tue 01/12 (the first working day of December), then Mon 07/12 and Mon 14/12: once a week, not twice
    assert sent_at == [vn(2026, 12, 1, 8, 0), vn(2026, 12, 7, 8, 0), vn(2026, 12, 14, 8, 0)]
    mail = admin_mail(smtp)[0]
    assert mail["to"] == [ADMIN] and mail["subject"] == f"[DDCI Quảng Ninh] {SUBJECT}"
    for words in ("calendar.declared_years hiện có: 2025, 2026", "Thêm 2027 vào calendar.declared_years",
                  "days_off", "make_up_workdays", "\"tạm tính\"", "mỗi tuần một lần"):
        assert words in mail["text"]
    from bot import context
    from sqlalchemy import select

    from store import Notification

    with app.app_context(), context.db().session() as s:
        rows = s.execute(select(Notification).where(Notification.kind == "calendar_undeclared")
                         .order_by(Notification.id)).scalars().all()
    assert [(r.idempotency_key, r.status) for r in rows] == [
        ("calendar:undeclared:2027:2026-W49", "sent"), ("calendar:undeclared:2027:2026-W50", "sent"),
        ("calendar:undeclared:2027:2026-W51", "sent")]


def test_nothing_is_sent_once_next_year_is_declared(make_app, services, smtp, clock):
    app = make_app(calendar=calendar_with([2025, 2026, 2027]))
    service = services(app)
    for day in range(1, 15):
        clock.set(vn(2026, 12, day, 8, 0))
        beat(service)
    assert admin_mail(smtp) == []
    assert service.jobs.next_run_time("calendar:declared-check") == vn(2026, 12, 15, 8, 0)  # it keeps looking


def test_a_check_missed_while_down_waits_for_office_hours(make_app, services, smtp, clock):
    app = make_app()
    clock.set(vn(2026, 11, 30, 9, 0))
    first = services(app, "first")
    beat(first)
    first.shutdown()  # down through Tuesday's 08:00 check ...
    clock.set(vn(2026, 12, 1, 20, 0))  # ... back Tuesday evening: offices are shut
    second = services(app, "second")
    beat(second)
    assert admin_mail(smtp) == []
    clock.set(vn(2026, 12, 2, 7, 30))  # the next opening
    beat(second)
    assert [m["to"] for m in admin_mail(smtp)] == [[ADMIN]]
    clock.set(vn(2026, 12, 2, 8, 0))  # Wednesday's own check: already told this week
    beat(second)
    assert len(admin_mail(smtp)) == 1


def test_without_admins_the_standing_office_is_told(make_app):
    from bot import context, runtime

    app = make_app(admins=[])
    with app.app_context():
        assert runtime.admins(context.settings()) == ["ddci@bxt.quangninh.example"]
    app = make_app(admins=["it@quangninh.example", "ops@quangninh.example"])
    with app.app_context():
        assert runtime.admins(context.settings()) == ["it@quangninh.example", "ops@quangninh.example"]


def test_admins_must_be_e_mail_addresses(tmp_path):
    from bot.config import ConfigError, load_config_file
    from tests.conftest import write_config

    with pytest.raises(ConfigError, match=r"admins.*not an email address: 'quan tri'"):
        load_config_file(write_config(tmp_path, admins=["quan tri"]))
    with pytest.raises(ConfigError, match="admins"):
        load_config_file(write_config(tmp_path, admins="it@quangninh.example"))  # a list, not one string


def test_a_standby_that_takes_over_stops_reporting_as_standby(make_app, services, clock):
    """After a takeover the "scheduler-standby" heartbeat aged for ever (538 s in an operator's
    run), which would trip the heartbeat alert; the new active one removes it."""
    from bot import context
    from store import Heartbeat

    app = make_app()
    clock.set(vn(2026, 12, 2, 9, 0))
    first, second = services(app, "first"), services(app, "second")
    beat(first)
    beat(second)

    def beats():
        with app.app_context(), context.db().session() as s:
            return {h.name: h.info for h in s.query(Heartbeat)}

    assert beats()["scheduler-standby"] == {"waiting_for": first.lease.holder}
    first.shutdown()  # releases the lease
    clock.advance(seconds=5)
    beat(second)
    assert "scheduler-standby" not in beats() and beats()["scheduler"]["holder"] == second.lease.holder


def test_the_admins_are_still_told_after_new_year_while_the_year_is_undeclared(make_app, services, smtp, clock):
    """The weekly e-mail stopped on 1 January by itself (a review): the year it was about had
    become the current one, every new deadline provisional, and nothing asked for it any more."""
    app = make_app()
    service = services(app)
    for day in (28, 29, 30, 31):  # the last week of 2026 (Monday 28/12 is its first working day)
        clock.set(vn(2026, 12, day, 8, 0))
        beat(service)
    for day in (1, 4, 5, 11):  # Friday 01/01 is a day off; Mon 04/01 and Mon 11/01 open a week each
        clock.set(vn(2027, 1, day, 8, 0))
        beat(service)
    mails = admin_mail(smtp)
    assert len(mails) == 3, [m["subject"] for m in mails]
    assert "cuối năm" in mails[0]["text"] and "đã bắt đầu" not in mails[0]["text"]
    for mail in mails[1:]:
        assert "Năm 2027 đã bắt đầu: mọi hạn trả lời tính từ nay" in mail["text"]
        assert "Thêm 2027 vào calendar.declared_years" in mail["text"]
    from bot import context
    from sqlalchemy import select

    from store import Notification

    with app.app_context(), context.db().session() as s:
        keys = s.execute(select(Notification.idempotency_key).where(Notification.kind == "calendar_undeclared")
                         .order_by(Notification.id)).scalars().all()
    assert keys == ["calendar:undeclared:2027:2026-W53", "calendar:undeclared:2027:2027-W01",
                    "calendar:undeclared:2027:2027-W02"]


def test_a_declared_current_year_sends_nothing_in_january(make_app, services, smtp, clock):
    app = make_app(calendar=calendar_with([2025, 2026, 2027]))
    service = services(app)
    for day in (4, 5, 11):
        clock.set(vn(2027, 1, day, 8, 0))
        beat(service)
    assert admin_mail(smtp) == []


def mails_to_admins(smtp) -> list[dict]:
    """Every admins' e-mail about undeclared days off, whichever years it names."""
    return [m for m in smtp.messages if "Chưa khai báo lịch nghỉ lễ, nghỉ bù" in m["subject"]]


def notification_keys(app) -> list[str]:
    from sqlalchemy import select

    from bot import context
    from store import Notification

    with app.app_context(), context.db().session() as s:
        return s.execute(select(Notification.idempotency_key).where(Notification.kind == "calendar_undeclared")
                         .order_by(Notification.id)).scalars().all()


@pytest.mark.parametrize("declared, day, years, key", [
    # December, this year and the next both undeclared: one e-mail naming both
    ([2025], vn(2026, 12, 1, 8, 0), (2026, 2027), "calendar:undeclared:2027:2026-W49"),
    # December, only next year undeclared: next year alone, as before
    ([2025, 2026], vn(2026, 12, 1, 8, 0), (2027,), "calendar:undeclared:2027:2026-W49"),
    # another month, this year and the next undeclared (next year is not asked for yet): this year alone
    ([2025, 2026], vn(2027, 1, 4, 8, 0), (2027,), "calendar:undeclared:2027:2027-W01"),
])
def test_the_e_mail_names_every_year_that_is_missing(make_app, services, smtp, clock, declared, day, years, key):
    """In December with both the current and the next year undeclared the e-mail named only
    the current year: the admins learned of next year's gap only after 1 January."""
    import unicodedata

    app = make_app(calendar=calendar_with(declared))
    service = services(app)
    clock.set(day)
    beat(service)
    clock.set(day + timedelta(days=1))  # the next day, same week: no second e-mail
    beat(service)
    (mail,) = mails_to_admins(smtp)
    names = " và ".join(f"năm {y}" for y in years)
    assert mail["to"] == [ADMIN]
    assert mail["subject"] == f"[DDCI Quảng Ninh] Chưa khai báo lịch nghỉ lễ, nghỉ bù {names}"
    text = mail["text"]
    assert unicodedata.is_normalized("NFC", mail["subject"]) and unicodedata.is_normalized("NFC", text)
    assert f"Lịch nghỉ lễ, nghỉ bù và các ngày thứ Bảy làm bù của {names} chưa được khai báo" in text
    assert f"calendar.declared_years hiện có: {', '.join(map(str, declared))})" in text
    assert f"của {names} vào mục calendar" in text
    assert f"2. Thêm {' và '.join(map(str, years))} vào calendar.declared_years." in text
    for year in {2026, 2027, 2028} - set(years):
        assert f"năm {year}" not in mail["subject"] + text and f"Thêm {year}" not in text
    if years == (2026, 2027):
        assert ("Năm 2026 đang diễn ra: mọi hạn trả lời tính từ nay, kể cả các hạn rơi vào năm 2027 của những "
                "phản ánh nhận vào cuối năm, đang được tính theo lịch dự đoán") in text
        assert "mọi hạn trong hai năm này" in text and "cho đến khi các năm đó được khai báo" in text
    elif day.month == 12:
        assert "Từ nay, các phản ánh nhận vào cuối năm có hạn trả lời rơi vào năm 2027; các hạn đó" in text
    else:
        assert "Năm 2027 đã bắt đầu: mọi hạn trả lời tính từ nay đang được tính" in text
    assert notification_keys(app) == [key]


def test_both_years_missing_through_new_year_is_one_e_mail_a_week(make_app, services, smtp, clock):
    """From 1 December the e-mail adds next year; on 1 January next year is this year and the
    e-mail names it alone, and a week never gets two (keyed by the latest year missing)."""
    app = make_app(calendar=calendar_with([2025]))
    service = services(app)
    for when in (vn(2026, 11, 30, 8, 0), vn(2026, 12, 1, 8, 0), vn(2026, 12, 2, 8, 0),
                 vn(2026, 12, 28, 8, 0), vn(2027, 1, 1, 8, 0), vn(2027, 1, 4, 8, 0)):
        clock.set(when)
        beat(service)
    subjects = [m["subject"].removeprefix("[DDCI Quảng Ninh] Chưa khai báo lịch nghỉ lễ, nghỉ bù ")
                for m in mails_to_admins(smtp)]
    # Mon 30/11: this year only; Tue 01/12 adds next year (new in that week); Mon 28/12 both again;
    # Fri 01/01 is a day off; Mon 04/01: 2027, now the current year, alone
    assert subjects == ["năm 2026", "năm 2026 và năm 2027", "năm 2026 và năm 2027", "năm 2027"]
    assert "Năm 2027 đã bắt đầu" in mails_to_admins(smtp)[-1]["text"]
    assert notification_keys(app) == ["calendar:undeclared:2026:2026-W49", "calendar:undeclared:2027:2026-W49",
                                      "calendar:undeclared:2027:2026-W53", "calendar:undeclared:2027:2027-W01"]


def test_undeclared_years_and_the_message_without_a_database():
    from scheduler.calendar import WorkingCalendar
    from scheduler.calendar_watch import message_vi, undeclared_years

    def years(declared, when):
        return undeclared_years(WorkingCalendar.from_mapping(calendar_with(declared)), when)

    assert years([2025], vn(2026, 12, 1, 9, 0)) == (2026, 2027)
    assert years([2025, 2026], vn(2026, 12, 1, 9, 0)) == (2027,)
    assert years([2025, 2027], vn(2026, 12, 1, 9, 0)) == (2026,)
    assert years([2025, 2026, 2027], vn(2026, 12, 1, 9, 0)) == ()
    assert years([2025], vn(2026, 11, 30, 23, 59)) == (2026,)  # not December yet: next year is not asked for
    assert years([2025, 2026], vn(2026, 11, 30, 23, 59)) == ()
    assert years([2025, 2026], vn(2027, 6, 1, 9, 0)) == (2027,)  # nor in June
    subject, text = message_vi((2026, 2027), (2025,), current=True)
    assert subject.endswith("nghỉ bù năm 2026 và năm 2027") and "Thêm 2026 và 2027 vào" in text
