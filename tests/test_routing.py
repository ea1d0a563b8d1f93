"""Routing: tables of (classification, page, place, named units) -> unit, pure; then the same
rules reached from real text through the gazetteer and the unit matcher."""
from __future__ import annotations

import pytest

from bot import runtime
from bot.config import load_settings
from routing.gazetteer import Gazetteer
from routing.rules import RouteRequest, route
from routing.taxonomy import DOMAIN_INTENTS, DOMAIN_NAMES_EN, DOMAIN_NAMES_VI, domain_name
from tests.conftest import REPO

SETTINGS = load_settings({"config_path": REPO / "config.yml", "environment": "test"}, environ={})
TABLE = runtime.routing_table(SETTINGS)
UNITS = runtime.unit_matcher(SETTINGS)
GAZ = Gazetteer.from_files()
DDCI_PAGE, SXD_PAGE = "100000000000001", "100000000000002"

OWNERS = {
    "dang_ky_kinh_doanh": "SO_TC", "dau_tu": "SO_TC", "dat_dai": "SO_NNMT", "moi_truong": "SO_NNMT",
    "nong_lam_thuy_san": "SO_NNMT", "xay_dung": "SO_XD", "giao_thong_van_tai": "SO_XD", "cong_thuong": "SO_CT",
    "thue": "THUE_QN", "hai_quan": "HQ_KV8", "lao_dong": "SO_NV", "bao_hiem_xa_hoi": "BHXH_QN", "y_te": "SO_YT",
    "van_hoa_du_lich": "SO_VHTTDL", "khoa_hoc_cong_nghe": "SO_KHCN", "an_ninh_pccc": "CA_QN",
    "phan_anh_can_bo": "BXT",
}


def test_every_domain_has_an_owner_in_the_shipped_table():
    assert set(OWNERS) == set(DOMAIN_INTENTS)


@pytest.mark.parametrize("intent, lang, name", [
    ("xay_dung", "vi", "Xây dựng"),
    ("xay_dung", "en", "Construction"),
    ("phan_anh_can_bo", "en", "Complaint about how a procedure was handled"),
    ("khong_ro", "vi", "khong_ro"),  # an unknown intent is shown as it is
])
def test_domain_names(intent, lang, name):
    assert domain_name(intent, lang) == name


def test_every_domain_is_named_in_both_languages():
    assert set(DOMAIN_NAMES_VI) == set(DOMAIN_NAMES_EN) == set(DOMAIN_INTENTS)


def test_a_conversation_intent_shown_as_a_domain_has_a_name_too():
    """An unsure inquiry keeps the classifier's guess, which may be a conversation intent: a
    review saw "Lĩnh vực: chao_hoi" on the console and in the weekly report."""
    from routing.taxonomy import CONVERSATION_INTENTS, CONVERSATION_NAMES_EN, CONVERSATION_NAMES_VI

    assert set(CONVERSATION_NAMES_VI) == set(CONVERSATION_NAMES_EN) == set(CONVERSATION_INTENTS)
    assert (domain_name("chao_hoi", "vi"), domain_name("chao_hoi", "en")) == ("Chào hỏi", "Greeting")
    assert domain_name("not_an_intent", "vi") == "not_an_intent"


@pytest.mark.parametrize("intent", sorted(OWNERS))
def test_domain_rule(intent):
    d = route(RouteRequest(intent, 0.95, False, DDCI_PAGE), TABLE)
    assert (d.unit, d.role) == (OWNERS[intent], "lead")
    assert d.rule == ("complaint" if intent == "phan_anh_can_bo" else "domain")
    assert d.trace[-1].endswith(f"-> {OWNERS[intent]}")


# (intent, confidence, unsure, page, zone, named units) -> (unit, role, rule, coordinators)
CASES = [
    # unsure or unknown -> the standing office's triage queue
    ("xay_dung", 0.30, True, DDCI_PAGE, None, (), ("BXT", "triage", "unsure", ())),
    (None, 0.0, False, DDCI_PAGE, None, (), ("BXT", "triage", "unsure", ())),
    ("chao_hoi", 0.99, False, DDCI_PAGE, None, (), ("BXT", "triage", "no_rule", ())),
    # economic zones and industrial parks -> Ban Quản lý KKT for its four domains only
    ("dau_tu", 0.90, False, DDCI_PAGE, "Khu công nghiệp Đông Mai", (), ("BQL_KKT", "lead", "zone", ())),
    ("xay_dung", 0.90, False, DDCI_PAGE, "Khu kinh tế Vân Đồn", (), ("BQL_KKT", "lead", "zone", ())),
    ("lao_dong", 0.90, False, DDCI_PAGE, "Khu công nghiệp Cái Lân", (), ("BQL_KKT", "lead", "zone", ())),
    ("moi_truong", 0.90, False, DDCI_PAGE, "Khu công nghiệp Sông Khoai", (), ("BQL_KKT", "lead", "zone", ())),
    ("thue", 0.90, False, DDCI_PAGE, "Khu công nghiệp Đông Mai", (), ("THUE_QN", "lead", "domain", ())),
    ("hai_quan", 0.90, False, DDCI_PAGE, "Khu kinh tế cửa khẩu Móng Cái", (), ("HQ_KV8", "lead", "domain", ())),
    # a unit's own page keeps what is not confidently another unit's domain
    ("thue", 0.60, False, SXD_PAGE, None, (), ("SO_XD", "lead", "page", ())),
    ("thue", 0.90, False, SXD_PAGE, None, (), ("THUE_QN", "lead", "domain", ())),
    ("giao_thong_van_tai", 0.40, False, SXD_PAGE, None, (), ("SO_XD", "lead", "domain", ())),
    ("xay_dung", 0.40, True, SXD_PAGE, None, (), ("BXT", "triage", "unsure", ())),
    # complaints: the unit named, the standing office following; none named -> standing office
    ("phan_anh_can_bo", 0.95, False, DDCI_PAGE, None, ("SO_XD",), ("SO_XD", "lead", "complaint", ("BXT",))),
    ("phan_anh_can_bo", 0.95, False, DDCI_PAGE, None, ("BXT", "THUE_QN"), ("THUE_QN", "lead", "complaint", ("BXT",))),
    ("phan_anh_can_bo", 0.95, False, DDCI_PAGE, None, (), ("BXT", "lead", "complaint", ())),
    ("phan_anh_can_bo", 0.95, False, SXD_PAGE, "Khu kinh tế Vân Đồn", ("P_BAI_CHAY",),
     ("P_BAI_CHAY", "lead", "complaint", ("BXT",))),
]


@pytest.mark.parametrize("intent, conf, unsure, page, zone, named, expected", CASES)
def test_routing_table(intent, conf, unsure, page, zone, named, expected):
    d = route(RouteRequest(intent, conf, unsure, page, zone, named), TABLE)
    assert (d.unit, d.role, d.rule, d.coordinators) == expected
    assert d.trace[0].startswith("classification:") and d.trace[-1].startswith(f"rule {expected[2]}:")


def test_coordination_from_config_and_no_office_copy_when_disabled():
    from dataclasses import replace

    table = replace(TABLE, coordination={"dat_dai": ("THUE_QN", "SO_NNMT")}, complaint_informs_office=False)
    d = route(RouteRequest("dat_dai", 0.9, False, DDCI_PAGE), table)
    assert (d.unit, d.coordinators) == ("SO_NNMT", ("THUE_QN",))
    assert any("coordination" in line for line in d.trace)
    c = route(RouteRequest("phan_anh_can_bo", 0.9, False, DDCI_PAGE, None, ("SO_XD",)), table)
    assert (c.unit, c.coordinators) == ("SO_XD", ())


# text -> what routing sees (places and units named), with and without diacritics
TEXTS = [
    ("Công ty em muốn xin giấy phép xây dựng nhà xưởng trong KCN Đông Mai", "Khu công nghiệp Đông Mai", ()),
    ("cty em o kcn dong mai muon xin GPXD", "Khu công nghiệp Đông Mai", ()),
    ("Dự án của chúng tôi ở KKT Vân Đồn cần điều chỉnh chủ trương đầu tư", "Khu kinh tế Vân Đồn", ()),
    ("We are building a factory in Amata Song Khoai", "Khu công nghiệp Sông Khoai", ()),
    ("Xin giấy phép xây dựng nhà ở tại phường Bãi Cháy", None, ("P_BAI_CHAY",)),
    ("Cán bộ Sở Xây dựng gây khó dễ, đòi thêm giấy tờ", None, ("SO_XD",)),
    ("can bo so xay dung gay kho de", None, ("SO_XD",)),
    ("Chi cục Thuế bắt bổ sung hồ sơ 3 lần, rồi đẩy sang Sở Tài chính", None, ("THUE_QN", "SO_TC")),
    ("UBND phường Hạ Long trả hồ sơ trễ hẹn", None, ("P_HA_LONG",)),
    ("Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả", None, ()),
]


@pytest.mark.parametrize("text, zone, units", TEXTS)
def test_what_the_text_names(text, zone, units):
    found = GAZ.first_zone(text)
    assert (found.place.name if found else None) == zone
    assert UNITS.find(text) == units
