"""The command line as an admin or officer uses it (Flask's CLI runner, real app)."""
from __future__ import annotations

import json

from tests.conftest import load_fixture, signed_post, with_text


def test_deadline_due_prints_iso_with_offset(app):
    result = app.test_cli_runner().invoke(args=["deadline", "due", "--start", "2026-02-13T10:00:00+07:00", "--days", "3"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "2026-02-25T17:00:00+07:00"


def test_deadline_due_reads_a_start_without_offset_as_local_time(app):
    # 23:30 UTC on Thu 12/02 is Fri 13/02 06:30 in Quảng Ninh: same answer as above.
    utc = app.test_cli_runner().invoke(args=["deadline", "due", "--start", "2026-02-12T23:30:00Z", "--days", "3"])
    local = app.test_cli_runner().invoke(args=["deadline", "due", "--start", "2026-02-13T06:30", "--days", "3"])
    assert utc.output.strip() == local.output.strip() == "2026-02-25T17:00:00+07:00"


def test_deadline_due_explain_lists_skipped_days(app):
    result = app.test_cli_runner().invoke(
        args=["deadline", "due", "--start", "2026-02-13T10:00", "--days", "3", "--explain"])
    assert "Tết Âm lịch (mùng 1 Bính Ngọ)" in result.output
    assert "1. Thứ Hai 23/02/2026" in result.output
    assert "tạm tính" not in result.output  # 2026's days off are declared


def test_deadline_due_explain_says_a_date_is_provisional(app):
    """In a year whose days off are not declared, as the acknowledgements say (a walkthrough)."""
    runner = app.test_cli_runner()
    result = runner.invoke(args=["deadline", "due", "--start", "2027-02-05T10:00", "--days", "3", "--explain"])
    assert result.exit_code == 0 and "Hạn tạm tính, có thể thay đổi khi lịch nghỉ lễ năm 2027 được công bố." in result.output
    plain = runner.invoke(args=["deadline", "due", "--start", "2027-02-05T10:00", "--days", "3"])
    assert len(plain.output.splitlines()) == 1  # scripts read one ISO instant
    english = runner.invoke(args=["deadline", "due", "--start", "2027-02-05T10:00", "--days", "3", "--explain",
                                  "--lang", "en"])
    assert "The due date is provisional: it may change when the official 2027 public holidays are announced." in english.output


def test_deadline_due_rejects_bad_input(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["deadline", "due", "--start", "yesterday", "--days", "3"]).exit_code == 2
    assert runner.invoke(args=["deadline", "due", "--start", "2026-01-01", "--days", "0"]).exit_code == 2


def test_nlu_classify_reads_lines_and_prints_json(app, trained_model):
    lines = "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả\n\ncho em hoi thu tuc hoan thue GTGT\n"
    result = app.test_cli_runner().invoke(args=["nlu", "classify"], input=lines)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.output.splitlines()]
    assert [o["intent"] for o in out] == ["xay_dung", "thue"]
    assert set(out[0]) >= {"text", "intent", "confidence", "entities", "needs_review"}
    assert out[0]["text"].startswith("Cho em hỏi") and 0 < out[0]["confidence"] <= 1


def test_nlu_train_skips_when_unchanged(app, trained_model):
    result = app.test_cli_runner().invoke(args=["nlu", "train"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["skipped"] is True


def test_inquiries_export(app, client, worker):
    signed_post(client, with_text(load_fixture("text_message.json"),
                                  "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả"))
    worker.run_once()
    result = app.test_cli_runner().invoke(args=["inquiries", "export"])
    [row] = [json.loads(line) for line in result.output.splitlines()]
    assert row["unit"] == "SO_XD" and row["status"] == "assigned" and row["page_id"] == "371024009436368"
    assert row["received_at"] == "2026-11-27T03:00:00Z" and row["due_at"] == "2026-12-02T10:00:00Z"
    assert set(row) == {"code", "page_id", "sender_id", "text", "intent", "confidence", "unit", "status",
                        "received_at", "due_at"}


def test_devmail_is_refused_in_production(make_app, monkeypatch):
    """The development mail sink keeps e-mails instead of delivering them; an operator's first
    deployment could start it with DDCI_ENV=production. It says why and exits 2, before listening."""
    import bot.devmail

    started = []
    monkeypatch.setattr(bot.devmail, "serve", lambda *args: started.append(args))
    app = make_app({"environment": "production", "ddci_secret_key": "k" * 40})
    with app.app_context():  # `flask` pushes one for every command; the runner for AppGroup's only
        result = app.test_cli_runner().invoke(args=["devmail"])
    assert result.exit_code == 2 and started == []
    assert "does not run with DDCI_ENV=production" in result.output


def test_devmail_on_a_busy_port_is_one_line_and_a_failure(app):
    """A port already taken printed aiosmtpd's traceback after its 5 s ready timeout (an operator's
    first deployment): now one line that names the address, and exit status 1."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with app.app_context():
            result = app.test_cli_runner().invoke(args=["devmail", "--host", "127.0.0.1", "--port", str(port)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert result.output.strip().splitlines() == [
        f"Error: the mail sink cannot listen on 127.0.0.1:{port}: Address already in use "
        "(another `make run`'s sink? `make run PORT=...` or --port moves it)"]


def test_numbers_out_of_range_are_usage_errors_not_tracebacks(app):
    """A sysadmin's walkthrough: `deadline due --start 9999-12-31T10:00` ended in OverflowError,
    `inquiries approve 99999999999999999999999` in SQLite's 'int too large'."""
    runner = app.test_cli_runner()
    for args, said in ((["deadline", "due", "--start", "9999-12-31T10:00", "--days", "3"], "a year from 2000 to 2100"),
                       (["deadline", "due", "--start", "0001-01-01T10:00", "--days", "1"], "a year from 2000 to 2100"),
                       (["deadline", "due", "--start", "2026-12-01T10:00", "--days", "100000"], "1<=x<=260"),
                       (["inquiries", "approve", "99999999999999999999999", "--by", "x"], "1<=x<=9223372036854775807"),
                       (["inquiries", "submit", "0", "--by", "x"], "1<=x<=9223372036854775807")):
        result = runner.invoke(args=args)
        assert result.exit_code == 2 and said in result.output, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_users_list_prints_the_last_login_in_local_time(app, clock):
    from datetime import datetime, timezone

    from bot import context
    from store import User
    from tests.console import PEOPLE, add_user

    uid = add_user(app, PEOPLE["officer_a"])
    with app.app_context(), context.db().session() as s:
        s.get(User, uid).last_login_at = datetime(2026, 12, 4, 23, 30, tzinfo=timezone.utc)
    listed = app.test_cli_runner().invoke(args=["users", "list"]).output
    assert "2026-12-05T06:30:00+07:00" in listed and "+00:00" not in listed
