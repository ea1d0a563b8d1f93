"""The console's search (the queue's filter and the inquiries page): diacritics ignored both
ways, a phone number found as the queue shows it, the business found by name and e-mail,
inside the person's scope, its wildcards literal; and revision 0013, which fills the folded
columns of rows stored before it. Users reported: "dat dai" did not find "đất đai", and
"0987.654.321" did not find the business that left 0987654321."""
from __future__ import annotations

import re
import unicodedata

import pytest
from sqlalchemy import select

from bot import context
from store import Conversation, Inquiry
from store.search import fold, query_phone, searchable
from tests.conftest import FIXTURE_PAGE
from tests.test_console_pages import Console, text

PAGES = ("/queue", "/inquiries")  # unit_queue's filter (also the triage page's) and the inquiries page


@pytest.fixture
def console(make_app, clock):
    return Console(make_app(), clock)


def finder(c: Console, who: str = "officer_a"):
    client = c.client(who)

    def found(path: str, q: str) -> set:
        response = client.get(path, query_string={"q": q})
        assert response.status_code == 200, (path, q)
        return set(re.findall(r'href="/inquiries/(QN-\d{4}-\d{6})"', text(response)))
    return found


# ---- the fold ----------------------------------------------------------------------------------
@pytest.mark.parametrize("typed, folded", [
    ("Thủ tục", "thu tuc"), ("ĐẤT ĐAI", "dat dai"), ("đất   đai\n", "dat dai"),
    (unicodedata.normalize("NFD", "Đăng ký"), "dang ky"),  # typed decomposed (Unikey's "tổ hợp")
    ("Hoá đơn", "hoa don"), ("Straße", "strasse"), ("100% _x_", "100% _x_"), ("", ""), (None, ""),
    ("ÐẤT ÐAI", "dat dai"),  # Ð (U+00D0) for Đ, as text converted from old encodings has it (a review)
])
def test_the_fold(typed, folded):
    assert fold(typed) == folded


@pytest.mark.parametrize("typed, digits", [
    ("0987.654.321", "0987654321"), ("0987 654 321", "0987654321"), ("+84 987 654 321", "0987654321"),
    ("(+84) 987-654-321", "0987654321"), ("654 321", "654321"),
    ("+84 (0) 987 654 321", "0987654321"),  # the 0 after the country code is not a digit more (a review)
    ("2026", None), ("dat dai", None), ("QN-2026-000001", None),
])
def test_a_query_that_is_a_phone_number(typed, digits):
    assert query_phone(typed) == digits


def test_the_stored_form_has_the_texts_phones_as_digits():
    assert searchable("Liên hệ +84 987 654 321, hoặc 0912-345-678") == \
        "lien he +84 987 654 321, hoac 0912-345-678\n0987654321\n0912345678"
    assert searchable("Công ty Đông Á", "KeToan@DongA.vn", "+84987654321") == \
        "cong ty dong a\nketoan@donga.vn\n+84987654321\n0987654321"
    assert searchable(None, None, None) == ""
    # a review: "(+84)" and "+84 (0)" in a text were not read as phone numbers
    assert searchable("LH (+84) 987 654 321").endswith("\n0987654321")
    assert searchable("sđt +84 (0) 912 345 678").endswith("\n0912345678")
    assert searchable("+84 (0) 203 3835 123").endswith("\n02033835123")  # a landline's trunk 0 too


# ---- both searches -------------------------------------------------------------------------------
def test_diacritics_are_ignored_both_ways_on_both_searches(console):
    c = console
    marked = c.ask("Cho em hỏi thủ tục giao đất đai ở Cẩm Phả")
    bare = c.ask("cho em hoi thu tuc giao dat dai o Ha Long")
    register = c.ask("Đăng ký cấp phép xây dựng nhà xưởng")
    plain = c.ask("dang ky cap phep sua chua nha xuong")
    other = c.ask("Hỏi về quy hoạch khu dân cư")
    found = finder(c)
    for path in PAGES:
        assert found(path, "dat dai") == {marked, bare}, path  # without diacritics finds both
        assert found(path, "đất đai") == {marked, bare}, path  # with them, too
        assert found(path, "THỦ TỤC") == {marked, bare} and found(path, "Thu Tuc") == {marked, bare}, path
        assert found(path, "Đăng ký") == {register, plain} and found(path, "dang ky") == {register, plain}, path
        assert found(path, "giao đat dai") == {marked, bare}, path  # half typed with them
        assert found(path, unicodedata.normalize("NFD", "đất đai")) == {marked, bare}, path
        assert found(path, "cam pha") == {marked} and found(path, "Hạ Long") == {bare}, path
        assert other not in found(path, "dat")


def test_a_phone_number_as_the_queue_shows_it_finds_the_business(console):
    c = console
    local = c.ask("Hỏi về giấy phép xây dựng", phone="0987654321")
    international = c.ask("Hỏi về cấp phép sửa chữa", phone="+84912345678")
    in_text = c.ask("Hỏi về quy hoạch, liên hệ em qua số 0903.111.222 ạ")
    found = finder(c)
    for path in PAGES:
        for typed in ("0987.654.321", "0987 654 321", "+84 987 654 321", "0987654321", "654.321"):
            assert found(path, typed) == {local}, (path, typed)
        for typed in ("0912.345.678", "+84 912 345 678"):  # stored as +84…: +84 is 0
            assert found(path, typed) == {international}, (path, typed)
        for typed in ("0903111222", "0903 111 222", "+84 903 111 222", "0903.111.222"):  # the text's digits
            assert found(path, typed) == {in_text}, (path, typed)


def test_the_business_is_found_by_name_and_e_mail(console):
    c = console
    named = c.ask("Hỏi về giấy phép xây dựng", name="Công ty TNHH Hạ Long Xanh")
    other = c.ask("Hỏi về cấp phép sửa chữa", name="Nguyễn Văn An")
    sender = c.inquiry(other).sender_id
    with c.app.app_context(), context.db().session() as s:
        s.get(Conversation, (FIXTURE_PAGE, sender)).email = "KeToan@DongA.example"
    found = finder(c)
    for path in PAGES:
        assert found(path, "ha long xanh") == {named} and found(path, "HẠ LONG XANH") == {named}, path
        assert found(path, "nguyen van") == {other} and found(path, "ketoan@donga") == {other}, path
        assert found(path, "DONGA.example") == {other}, path  # the e-mail, folded like the rest


def test_wildcards_stay_literal_and_another_units_inquiry_stays_unseen(console):
    c = console
    percent = c.ask("Phí xây dựng tăng 100% có đúng không")
    ours = c.ask("Thủ tục đất đai cho nhà xưởng", phone="0987654321", name="Công ty Đông Á")
    theirs = c.ask("Thủ tục đất đai và thuế đất", "thue", phone="0987654321", name="Công ty Đông Á")
    found = finder(c)
    for path in PAGES:
        assert found(path, "100%") == {percent} and found(path, "%") == {percent}, path
        assert found(path, "_") == set() and found(path, "d_t") == set() and found(path, "%dat%") == set(), path
        assert found(path, "' OR 1=1 --") == set(), path
        # SO_XD's officer: THUE_QN's inquiry is found by none of its words, its name or its phone
        assert found(path, "dat dai") == {ours} and found(path, "thue dat") == set(), path
        assert found(path, "dong a") == {ours} and found(path, "0987.654.321") == {ours}, path
    tax = finder(c, "officer_b")
    assert tax("/inquiries", "dat dai") == {theirs} and tax("/queue", "0987 654 321") == {theirs}
    office = finder(c, "office")  # the standing office sees every inquiry
    assert office("/inquiries", "dong a") == {ours, theirs}


def test_the_triage_queue_searches_the_same_way(console, clock):
    from bot import runtime

    c = console
    with c.app.app_context():
        cw = runtime.casework(context.settings(), context.db(), clock)
    unsure = c.ask("Cho hỏi về đất đai ven biển", "dat_dai", name="Công ty Biển Đông")
    cw.send_back(unsure, by="canbo@tnmt.example", reason="Không thuộc lĩnh vực đất đai")
    found = finder(c, "office")
    assert found("/triage", "dat dai ven bien") == {unsure} and found("/triage", "bien dong") == {unsure}
    assert found("/triage", "thue") == set()


def test_the_text_changed_is_searched_as_it_stands(console):
    """An edited message changes the inquiry's text (bot/conversation/edits.py): the folded
    column follows it, whoever sets the text."""
    c = console
    code = c.ask("Hỏi về giấy phép")
    with c.app.app_context(), context.db().session() as s:
        s.execute(select(Inquiry).where(Inquiry.code == code)).scalar_one().text = "Hỏi về đất đai"
    found = finder(c)
    assert found("/queue", "dat dai") == {code} and found("/queue", "giay phep") == set()


# ---- revision 0013 ----------------------------------------------------------------------------
def test_the_migration_fills_the_search_text_of_rows_stored_before_it(db, clock):
    from alembic import command
    from sqlalchemy import text as sql

    from cases.worklists import search_clause
    from store.migrate import alembic_config

    now = clock().replace(tzinfo=None)
    with db.engine.begin() as conn:
        cfg = alembic_config(db.engine)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0012")
        conn.execute(sql("INSERT INTO inbox_events (id, channel, dedup_key, object, kind, payload, received_at, "
                         "status, attempts) VALUES (1, 'messenger', 'mid:m_old', 'page', 'text', '{}', :t, 'done', 1)"),
                     {"t": now})
        conn.execute(sql("INSERT INTO inquiries (id, code, source_event_id, page_id, sender_id, channel, language, "
                         "text, needs_review, status, received_at, created_at, updated_at) VALUES "
                         "(1, 'QN-2026-000001', 1, 'p', 's', 'messenger', 'vi', :x, false, 'assigned', :t, :t, :t)"),
                     {"t": now, "x": "Thủ tục đất đai, liên hệ 0912.345.678"})
        conn.execute(sql("INSERT INTO conversations (page_id, sender_id, phone, email, display_name, updated_at) "
                         "VALUES ('p', 's', '+84987654321', 'KeToan@DongA.example', 'Công ty Đông Á', :t), "
                         "('p', 't', NULL, NULL, NULL, :t)"), {"t": now})
        command.upgrade(cfg, "head")
    with db.engine.connect() as conn:
        assert conn.execute(sql("SELECT search_text FROM inquiries")).scalar() == \
            "thu tuc dat dai, lien he 0912.345.678\n0912345678"
        assert conn.execute(sql("SELECT sender_id, search_text FROM conversations ORDER BY sender_id")).all() == [
            ("s", "cong ty dong a\nketoan@donga.example\n+84987654321\n0987654321"), ("t", "")]
    with db.session() as s:
        for typed in ("dat dai", "0912 345 678", "Đông Á", "0987.654.321"):
            assert s.execute(select(Inquiry.code).where(search_clause(typed))).scalars().all() == ["QN-2026-000001"]
