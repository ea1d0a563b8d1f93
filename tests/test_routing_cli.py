"""`flask routing explain` and `flask routing check` as an officer or admin runs them."""
from __future__ import annotations

import pytest

from routing.taxonomy import CONVERSATION_INTENTS, DOMAIN_INTENTS
from tests.conftest import FIXTURE_PAGE, SECOND_PAGE

EXAMPLES = [
    ("Xin hỏi thủ tục thay đổi người đại diện theo pháp luật của công ty TNHH cần hồ sơ gì?", "SO_TC"),
    ("Nhà đầu tư nước ngoài muốn xin chấp thuận chủ trương đầu tư dự án khách sạn ở Hạ Long thì làm thế nào?", "SO_TC"),
    ("Gia đình tôi muốn chuyển mục đích sử dụng đất nông nghiệp sang đất ở thì cần thủ tục gì?", "SO_NNMT"),
    ("Nhà máy của công ty cần lập báo cáo đánh giá tác động môi trường trước khi xây dựng phải không?", "SO_NNMT"),
    ("Cho hỏi thủ tục cấp giấy phép khai thác thủy sản cho tàu cá ở Vân Đồn?", "SO_NNMT"),
    ("Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả", "SO_XD"),
    ("Doanh nghiệp vận tải cần thủ tục gì để cấp phù hiệu xe tải?", "SO_XD"),
    ("Thủ tục xin giấy phép bán lẻ rượu và thuốc lá như thế nào ạ?", "SO_CT"),
    ("Công ty xuất khẩu muốn làm hồ sơ hoàn thuế giá trị gia tăng thì nộp ở đâu?", "THUE_QN"),
    ("Thủ tục tạm nhập tái xuất hàng hóa qua cửa khẩu Móng Cái cần những giấy tờ gì?", "HQ_KV8"),
    ("Công ty cần xin giấy phép lao động cho kỹ sư người Nhật thì làm thế nào?", "SO_NV"),
    ("Doanh nghiệp chậm đóng bảo hiểm xã hội cho người lao động bị xử lý thế nào?", "BHXH_QN"),
    ("Thủ tục cấp giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm cho bếp ăn công nghiệp?", "SO_YT"),
    ("Công ty du lịch muốn xin giấy phép kinh doanh lữ hành quốc tế cần điều kiện gì?", "SO_VHTTDL"),
    ("Thủ tục đăng ký bảo hộ nhãn hiệu cho sản phẩm của công ty như thế nào?", "SO_KHCN"),
    ("Kho hàng mới xây cần thẩm duyệt thiết kế phòng cháy chữa cháy ở đâu?", "CA_QN"),
    ("Cán bộ một cửa đòi thêm giấy tờ không có trong quy định và hồ sơ của tôi đã trễ hẹn 10 ngày", "BXT"),
]


@pytest.fixture
def explain(make_app, trained_model):
    app = make_app(nlu__threshold=0.5, nlu__min_margin=0.0)
    runner = app.test_cli_runner()

    def run(text: str, *extra: str) -> str:
        result = runner.invoke(args=["routing", "explain", text, "--at", "2026-11-27T10:00", *extra])
        assert result.exit_code == 0, result.output
        return result.output

    return run


@pytest.mark.parametrize("text, unit", EXAMPLES)
def test_explain_each_domain(explain, text, unit):
    out = explain(text)
    assert f"unit:        {unit} " in out and "(lead)" in out
    assert "rule domain:" in out or "rule complaint:" in out
    assert "due:         2026-12-02T17:00:00+07:00 (3 working days)" in out


def test_explain_economic_zone_case(explain):
    out = explain("Công ty Hàn Quốc muốn xin giấy chứng nhận đăng ký đầu tư cho dự án nhà máy trong KCN Đông Mai")
    assert "rule zone: dau_tu of a project in Khu công nghiệp Đông Mai -> BQL_KKT" in out
    assert "unit:        BQL_KKT Ban Quản lý Khu kinh tế Quảng Ninh (lead)" in out


@pytest.mark.parametrize("keeps_below, expected", [
    (1.0, "rule page: sent to SO_XD's own page; bao_hiem_xa_hoi (owned by BHXH_QN) is not confident enough"),
    (0.0, "rule domain: bao_hiem_xa_hoi is owned by BHXH_QN -> BHXH_QN"),
])
def test_explain_unit_page_case(make_app, trained_model, keeps_below, expected):
    """A question on Sở Xây dựng's page about another unit's domain stays with Sở Xây dựng
    unless the classifier is at least `page_keeps_below` sure."""
    app = make_app(nlu__threshold=0.5, routing__page_keeps_below=keeps_below)
    result = app.test_cli_runner().invoke(args=[
        "routing", "explain", "Doanh nghiệp chậm đóng bảo hiểm xã hội cho người lao động bị xử lý thế nào?",
        "--page", SECOND_PAGE, "--at", "2026-11-27T10:00"])
    assert result.exit_code == 0, result.output
    assert expected in result.output


def test_explain_complaint_about_a_named_unit(explain):
    out = explain("Cán bộ Sở Xây dựng yêu cầu nộp thêm nhiều giấy tờ không có trong quy định, hồ sơ của tôi trễ hẹn 2 tuần")
    assert "rule complaint: a complaint about how SO_XD handled a procedure; the standing office follows it -> SO_XD" in out
    assert "coordinator: BXT Ban Xúc tiến và Hỗ trợ đầu tư tỉnh Quảng Ninh (due 2026-12-01T17:00:00+07:00)" in out


def test_explain_rejects_an_unknown_page(make_app):
    result = make_app().test_cli_runner().invoke(args=["routing", "explain", "x", "--page", "42"])
    assert result.exit_code == 2 and "page 42 is not configured" in result.output


def test_routing_check(make_app):
    result = make_app().test_cli_runner().invoke(args=["routing", "check"])
    assert result.exit_code == 0, result.output
    assert "routing configuration OK" in result.output
    assert f"page {FIXTURE_PAGE} DDCI Quảng Ninh (test) -> BXT" in result.output
    assert "placeholder e-mail addresses" in result.output


def test_explain_shows_the_runner_up_intent(explain):
    out = explain("Công ty xuất khẩu muốn làm hồ sơ hoàn thuế giá trị gia tăng thì nộp ở đâu?")
    intent = out.split("intent:      ")[1].split()[0]
    confidence = float(out.split("(confidence ")[1].split(")")[0].split(",")[0])
    runner_up = out.split("runner-up:   ")[1].splitlines()[0]
    name, rest = runner_up.split(" ", 1)
    second = float(rest.split("confidence ")[1].split(",")[0])
    assert intent == "thue" and name != intent and name in DOMAIN_INTENTS + CONVERSATION_INTENTS
    margin = float(runner_up.split("margin ")[1].rstrip(")"))
    assert 0 < second <= confidence and abs(margin - (confidence - second)) <= 0.0011  # each printed rounded to 0.001


def test_explain_says_one_working_day_in_the_singular(make_app, trained_model):
    app = make_app(nlu__threshold=0.9999)  # unsure: triage, 1 working day
    result = app.test_cli_runner().invoke(args=[
        "routing", "explain", "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả", "--at", "2026-11-27T10:00"])
    assert result.exit_code == 0, result.output
    assert "due:         2026-11-30T17:00:00+07:00 (1 working day)\n" in result.output
    assert "working days" not in result.output.split("due:")[1]


def test_explain_marks_a_due_date_in_an_undeclared_year(explain):
    out = explain("Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả", "--at", "2026-12-30T10:00")
    assert ("due:         2027-01-05T17:00:00+07:00 (3 working days) provisional: that year's days off are not "
            "declared") in out


def test_explain_refuses_an_instant_that_is_not_one_cleanly(make_app, trained_model):
    """An operator: `--at yesterday` printed a traceback (ValueError: Invalid isoformat string)."""
    result = make_app().test_cli_runner().invoke(args=["routing", "explain", "Thủ tục cấp phép xây dựng?",
                                                       "--at", "yesterday"])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "Invalid value for '--at': not an ISO 8601 date-time: 'yesterday'" in result.output
    assert "Traceback" not in result.output
