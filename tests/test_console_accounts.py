"""Accounts from the command line and the admin pages; demo accounts for development only;
the audit page; the scoping helper's rules."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot import context
from store import Assignment, AuditEntry, User
from tests.console import PEOPLE, add_user, csrf_from, login, open_inquiry, page_token


def text(response) -> str:
    return response.get_data(as_text=True)


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["users", *args])


def test_users_create_list_disable_enable(app):
    created = cli(app, "create", "--email", " CanBo@SoXD.example ", "--unit", "SO_XD", "--role", "officer")
    assert created.exit_code == 0, created.output
    assert re.search(r"^http://127\.0\.0\.1:5000/password/set/[\w-]{43}$", created.output, re.M)
    assert "hết hạn sau 24 giờ" in created.output
    assert cli(app, "create", "--email", "canbo@soxd.example", "--unit", "SO_XD", "--role", "head").exit_code == 1
    bad_unit = cli(app, "create", "--email", "x@y.example", "--unit", "NOPE", "--role", "officer")
    assert bad_unit.exit_code == 1 and "Không có đơn vị 'NOPE'" in bad_unit.output
    assert cli(app, "create", "--email", "x@y.example", "--unit", "SO_XD", "--role", "boss").exit_code == 2
    assert cli(app, "list").output.splitlines() == [
        "canbo@soxd.example\tSO_XD\tofficer\tactive\tno password yet\tnever logged in"]
    assert cli(app, "disable", "--email", "canbo@soxd.example").exit_code == 0
    assert "\tdisabled\t" in cli(app, "list").output
    assert cli(app, "enable", "--email", "canbo@soxd.example").exit_code == 0
    assert cli(app, "disable", "--email", "nobody@soxd.example").exit_code == 1
    with app.app_context(), context.db().session() as s:
        entries = s.execute(select(AuditEntry.action, AuditEntry.address, AuditEntry.object_id)
                            .order_by(AuditEntry.id)).all()
    assert [(a, addr) for a, addr, _ in entries] == [("user.create", "cli"), ("user.disable", "cli"),
                                                     ("user.enable", "cli")]


def test_demo_accounts_log_in_in_development(make_app):
    app = make_app({"environment": "development"})
    result = cli(app, "demo")
    assert result.exit_code == 0, result.output
    found = re.findall(r"(\S+@demo\.example)\s+(\S+)\s+\((\w+)\)", result.output)
    assert [(e, u) for e, _, u in found] == [("canbo.xd@demo.example", "SO_XD"), ("lanhdao.xd@demo.example", "SO_XD"),
                                             ("bxt@demo.example", "BXT"), ("admin@demo.example", "BXT")]
    for email, password, _ in found:
        assert login(app.test_client(), email, password).status_code == 302, email
    assert cli(app, "demo").exit_code == 0  # again: the same accounts, nothing doubled
    with app.app_context(), context.db().session() as s:
        assert s.query(User).count() == 4


def test_demo_accounts_are_refused_in_production(make_app):
    app = make_app({"environment": "production", "ddci_secret_key": "demo-test-production-session-key-7d31e0"})
    result = cli(app, "demo")
    assert result.exit_code == 1 and "development only" in result.output
    with app.app_context(), context.db().session() as s:
        assert s.query(User).count() == 0


def test_an_admin_creates_an_account_and_gets_its_link_once(app, client):
    add_user(app, PEOPLE["admin"])
    login(client, PEOPLE["admin"])
    token = page_token(client, "/admin/users")
    page = client.post("/admin/users", data={"csrf_token": token, "email": "moi@thue.example", "unit": "THUE_QN",
                                             "role": "head"})
    link = re.search(r'value="(http://[^"]+/password/set/[^"]+)"', text(page)).group(1)
    assert "trang này sẽ không hiển thị lại nó" in text(page)
    assert link.split("/")[-1] not in text(client.get("/admin/users"))
    again = client.post("/admin/users", data={"csrf_token": token, "email": "MOI@thue.example", "unit": "THUE_QN",
                                              "role": "head"})
    assert "Đã có tài khoản với email moi@thue.example." in text(again)
    bad = client.post("/admin/users", data={"csrf_token": token, "email": "không phải email", "unit": "THUE_QN",
                                            "role": "head"})
    assert "Email không hợp lệ." in text(bad)
    with app.app_context(), context.db().session() as s:
        assert s.execute(select(User.role, User.unit_code).where(User.email == "moi@thue.example")).one() == (
            "head", "THUE_QN")
        [entry] = s.execute(select(AuditEntry).where(AuditEntry.action == "user.create")).scalars()
    assert (entry.actor, entry.object_id, entry.details) == ("quantri@bxt.example", "moi@thue.example",
                                                             {"unit": "THUE_QN", "role": "head"})


def test_an_admin_changes_a_role_and_cannot_lock_themselves_out(app, client):
    admin = add_user(app, PEOPLE["admin"])
    officer = add_user(app, PEOPLE["officer_a"])
    login(client, PEOPLE["admin"])
    other = app.test_client()
    login(other, PEOPLE["officer_a"])
    form = text(client.get(f"/admin/users/{officer}"))
    r = client.post(f"/admin/users/{officer}", data={"csrf_token": csrf_from(form), "unit": "SO_XD", "role": "head"})
    assert r.status_code == 302
    assert other.get("/").status_code == 302  # the old role's session ended
    r = client.post(f"/admin/users/{admin}", data={"csrf_token": csrf_from(form), "unit": "BXT", "role": "officer"})
    assert "không thể tự bỏ quyền quản trị" in text(client.get(r.headers["Location"]))
    r = client.post(f"/admin/users/{admin}/disable", data={"csrf_token": csrf_from(form)})
    assert "không thể tự khóa" in text(client.get(r.headers["Location"]))
    with app.app_context(), context.db().session() as s:
        assert (s.get(User, admin).role, s.get(User, admin).active) == ("admin", True)
        assert s.get(User, officer).role == "head"
        [entry] = s.execute(select(AuditEntry).where(AuditEntry.action == "user.update")).scalars()
    assert entry.details == {"role": ["officer", "head"]}


def test_the_units_page_shows_the_configuration_read_only(app, client):
    add_user(app, PEOPLE["admin"])
    login(client, PEOPLE["admin"])
    page = text(client.get("/admin/units"))
    assert "motcua@soxd.quangninh.example" in page and "TEST_TOKEN_SXD" in page and "config.yml" in page
    assert "<form" not in page.split("<main")[1]


def test_the_audit_page_filters_and_pages(make_app, clock):
    app = make_app(console={"page_size": 5})
    add_user(app, PEOPLE["office"])
    for i in range(7):
        login(app.test_client(), f"guess{i}@soxd.example", "wrong wrong wrong", environ={"REMOTE_ADDR": f"10.0.0.{i}"})
        clock.advance(hours=12)
    client = app.test_client()
    login(client, PEOPLE["office"])
    first = text(client.get("/audit"))
    assert "Trang 1/2 · 8 dòng" in first and "thuongtruc@bxt.example" in first  # 7 failures and the login
    assert "Trang 2/2" in text(client.get("/audit?page=2")) and "Trang 2/2" in text(client.get("/audit?page=99"))
    only = text(client.get("/audit", query_string={"action": "login.failed", "address": "10.0.0.3"}))
    assert "guess3@soxd.example" in only and "guess4@soxd.example" not in only and "1 dòng" in only
    # 27/11 10:00 + 12 h steps: 28/11 has the failures at 28/11 10:00 (i=2) and 22:00 (i=3)
    days = text(client.get("/audit", query_string={"date_from": "28/11/2026", "date_to": "28/11/2026"}))
    assert "guess2@" in days and "guess3@" in days and "guess1@" not in days and "guess4@" not in days
    wrong = text(client.get("/audit", query_string={"date_from": "2026-11-28"}))
    assert "cần ngày dạng dd/mm/yyyy" in wrong
    assert "Đăng nhập sai" in only


# ---- scoping ----------------------------------------------------------------------------------
def test_scoping_follows_the_units_assignments(app):
    """Lead and coordinating units see an inquiry; a unit it was reassigned away from does not."""
    from bot import runtime
    from bot.console.access import ConsoleUser
    from bot.console.scope import find_inquiry

    mine = open_inquiry(app, "Cho em hỏi thủ tục cấp giấy phép xây dựng", "xay_dung")

    def who(unit, role="officer"):
        return ConsoleUser(1, "x@y.example", unit, role, "n")

    def sees(user):
        with app.app_context(), context.db().session() as s:
            return find_inquiry(s, mine, user) is not None

    assert sees(who("SO_XD")) and sees(who("SO_XD", "head"))
    assert not sees(who("THUE_QN")) and not sees(who("BQL_KKT"))
    assert sees(who("THUE_QN", "standing_office")) and sees(who("THUE_QN", "admin"))
    with app.app_context():
        casework = runtime.casework(context.settings(), context.db(), context.clock())
        casework.request_coordination(mine, ["THUE_QN"], by="bxt@example", reason="thuế")
        assert sees(who("THUE_QN"))
        casework.assign(mine, "BQL_KKT", by="bxt@example", reason="trong KKT")
    assert sees(who("BQL_KKT")) and not sees(who("SO_XD"))  # reassigned away
    with app.app_context(), context.db().session() as s:
        roles = {(a.unit_code, a.role, a.status) for a in s.execute(select(Assignment)).scalars()}
    assert ("SO_XD", "lead", "reassigned") in roles and ("THUE_QN", "coordinate", "open") in roles


@pytest.mark.parametrize("code", ["", " ", "x" * 33, "QN-2026-000001'--"])
def test_odd_codes_are_simply_not_found(app, client, code):
    add_user(app, PEOPLE["admin"])
    open_inquiry(app, "Hỏi về xây dựng", "xay_dung")
    login(client, PEOPLE["admin"])
    assert client.get(f"/inquiries/{code}").status_code == 404


def test_behind_a_trusted_proxy_the_client_address_is_logged_and_throttled(make_app):
    app = make_app(app={"base_url": "http://127.0.0.1:5000", "tracking_prefix": "QN", "graph_api_version": "v21.0",
                        "trusted_proxies": 1})
    add_user(app, PEOPLE["officer_a"])
    client = app.test_client()
    page = client.get("/login")
    client.post("/login", headers={"X-Forwarded-For": "198.51.100.4"},
                data={"csrf_token": csrf_from(text(page)), "email": PEOPLE["officer_a"].email, "password": "sai sai sai"})
    with app.app_context(), context.db().session() as s:
        assert s.execute(select(AuditEntry.address)).scalar_one() == "198.51.100.4"


def test_forwarded_headers_count_only_from_the_proxy_itself(make_app):
    """gunicorn is reachable directly too (Procfile.production binds 0.0.0.0): a caller there
    who writes X-Forwarded-For is not taken for 127.0.0.1 (metrics) nor for a new address at
    each attempt (the login throttle, the audit log). From the proxy's address they count."""
    app = make_app(app={"base_url": "http://127.0.0.1:5000", "tracking_prefix": "QN", "graph_api_version": "v21.0",
                        "trusted_proxies": 1, "proxy_addresses": ["10.0.0.5"]})
    add_user(app, PEOPLE["officer_a"])
    direct, proxied = {"REMOTE_ADDR": "192.0.2.2"}, {"REMOTE_ADDR": "10.0.0.5"}
    client = app.test_client()
    assert client.get("/metrics", environ_base=direct, headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 403
    assert client.get("/metrics", environ_base=proxied, headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200
    for n, environ in enumerate([direct, direct, proxied]):
        page = client.get("/login", environ_base=environ)
        client.post("/login", environ_base=environ, headers={"X-Forwarded-For": f"198.51.100.{n + 1}"},
                    data={"csrf_token": csrf_from(text(page)), "email": PEOPLE["officer_a"].email,
                          "password": "sai sai sai"})
    with app.app_context(), context.db().session() as s:
        addresses = s.execute(select(AuditEntry.address).order_by(AuditEntry.id)).scalars().all()
    assert addresses == ["192.0.2.2", "192.0.2.2", "198.51.100.3"]


def test_a_proxy_address_that_is_not_one_stops_the_start(make_app):
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match=r"app\.proxy_addresses.*not an IP address"):
        make_app(app={"base_url": "http://127.0.0.1:5000", "tracking_prefix": "QN", "graph_api_version": "v21.0",
                      "proxy_addresses": ["nginx.local"]})
