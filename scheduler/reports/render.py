"""A report as people read it: the e-mail's HTML and text (templates/report.*), the chart (PNG)
and the workbook (.xlsx), all in Vietnamese."""
from __future__ import annotations

import io
import unicodedata
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Iterable, Optional, Sequence

from jinja2 import Environment, FileSystemLoader, select_autoescape

from scheduler.reports.build import Report, domain_name

_env = Environment(
    loader=FileSystemLoader(str(Path(__file__).with_name("templates"))),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    keep_trailing_newline=True,
)

OUTCOME_VI = {"on_time": "Trả lời đúng hạn", "late": "Trả lời quá hạn", "open": "Đang xử lý",
              "overdue": "Quá hạn, chưa trả lời", "closed": "Đã đóng, không trả lời"}
COLUMNS_VI = ("Tiếp nhận", "Đã giao", "Trả lời đúng hạn", "Trả lời quá hạn", "Đang xử lý",
              "Quá hạn chưa trả lời", "Thời gian trả lời trung vị (giờ làm việc)", "Trả lời không qua phê duyệt")
DEFINITIONS_VI = (
    "Kỳ báo cáo tuần là một tuần ISO, từ 00:00 thứ Hai đến 24:00 Chủ nhật (giờ Việt Nam); báo cáo gửi "
    "ngày thứ Năm là của tuần liền trước. Kỳ báo cáo tháng là tháng dương lịch, gửi ngày đầu tháng sau.",
    "Số liệu tính đến thời điểm chốt (thời điểm gửi theo lịch), về các phản ánh TIẾP NHẬN trong kỳ.",
    "Đơn vị: đơn vị chủ trì được giao (Ban Xúc tiến khi còn chờ phân loại); không tính đơn vị phối hợp.",
    "Đã giao: đã có đơn vị chủ trì. Đúng hạn: trả lời trước hoặc đúng hạn của đơn vị chủ trì; quá hạn: "
    "trả lời sau hạn. Đang xử lý: chưa trả lời đến thời điểm chốt; quá hạn chưa trả lời: đang xử lý và "
    "đã qua hạn.",
    "Trả lời không qua phê duyệt: trả lời gõ trực tiếp trên trang (Meta Business Suite, dưới bình luận), "
    "không qua dự thảo được lãnh đạo duyệt trong trang quản lý (Quyết định 3887, Điều 9.5(a)).",
    "Thời gian trả lời: số giờ làm việc (trong giờ hành chính, ngày làm việc) từ khi tiếp nhận đến khi "
    "trả lời; báo cáo nêu giá trị trung vị.",
    "Bài đăng: số bài trang tự đăng trong tuần (không tính bài đã gỡ), so với mức tối thiểu mỗi tuần. "
    "Báo cáo tháng tính các tuần ISO có ngày thứ Năm thuộc tháng.",
)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _hours_vi(value: Optional[float]) -> str:
    """One decimal, half up, with a decimal comma (20.25 -> "20,3")."""
    if value is None:
        return "-"
    return str(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)).replace(".", ",")


def _local(instant: Optional[datetime], tz) -> str:
    return "-" if instant is None else instant.astimezone(tz).strftime("%H:%M %d/%m/%Y")


def title_vi(report: Report) -> str:
    kind = "tuần" if report.period.kind == "weekly" else "tháng"
    base = f"Báo cáo {kind} tiếp nhận, trả lời phản ánh của doanh nghiệp – {report.period.title_vi}"
    return _nfc(base + (f" – {report.unit_name}" if report.unit else ""))


def subject_vi(report: Report) -> str:
    return f"[DDCI Quảng Ninh] {title_vi(report)}"


def file_stem(report: Report) -> str:
    return f"ddci-{report.period.kind}-{report.period.label}" + (f"-{report.unit}" if report.unit else "")


def _view(report: Report, tz, chart_src: Optional[str]) -> dict:
    total = report.total
    detail = list(report.lines) if report.unit else [l for l in report.lines if l.outcome == "overdue"]
    return {
        "title": title_vi(report), "subject": subject_vi(report), "period": report.period.title_vi,
        "as_of": _local(report.as_of, tz), "unit_name": report.unit_name, "chart_src": chart_src,
        "columns": COLUMNS_VI, "min_posts": report.min_posts, "definitions": DEFINITIONS_VI,
        "total": [*total.as_row()[:-1], _hours_vi(total.median_hours), total.unapproved],
        "by_unit": [(g.name, *g.counts.as_row()[:-1], _hours_vi(g.counts.median_hours), g.counts.unapproved)
                    for g in report.by_unit],
        "by_domain": [(g.name, *g.counts.as_row()[:-1], _hours_vi(g.counts.median_hours), g.counts.unapproved)
                      for g in report.by_domain],
        "posts": [(p.page_name, report.unit_names.get(p.unit_code or "", p.unit_code or "-"), p.week, p.posts,
                   p.minimum, "Đạt" if p.meets else "Chưa đạt") for p in report.posts],
        "detail_title": "Danh sách phản ánh" if report.unit else "Phản ánh quá hạn chưa trả lời",
        "detail": [(l.code, report.unit_names.get(l.unit_code, l.unit_code), domain_name(l.domain),
                    _local(l.received_at, tz), _local(l.due_at, tz), _local(l.answered_at, tz),
                    OUTCOME_VI[l.outcome], _hours_vi(l.response_hours)) for l in detail],
    }


def render_html(report: Report, tz, chart_src: Optional[str]) -> str:
    return _nfc(_env.get_template("report.html").render(**_view(report, tz, chart_src)))


def render_text(report: Report, tz) -> str:
    return _nfc(_env.get_template("report.txt").render(**_view(report, tz, None)))


def render_chart(report: Report) -> bytes:
    """Stacked bars per unit (per domain in a unit's extract): on time, late, open, overdue."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups = (report.by_domain if report.unit else report.by_unit)[:15]
    height = max(3.0, 0.45 * len(groups) + 1.6)
    fig = Figure(figsize=(9, height), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    if not groups:
        ax.text(0.5, 0.5, "Không có phản ánh trong kỳ", ha="center", va="center", fontsize=12)
        ax.set_axis_off()
    else:
        names = [g.name if len(g.name) <= 40 else g.name[:39] + "…" for g in reversed(groups)]
        series = (("Đúng hạn", "on_time", "#2e7d32"), ("Quá hạn (đã trả lời)", "late", "#f9a825"),
                  ("Đang xử lý", None, "#1565c0"), ("Quá hạn chưa trả lời", "overdue", "#c62828"))
        left = [0] * len(groups)
        for label, field, color in series:
            if field is None:
                values = [g.counts.open - g.counts.overdue for g in reversed(groups)]
            else:
                values = [getattr(g.counts, field) for g in reversed(groups)]
            ax.barh(names, values, left=left, color=color, label=label)
            left = [a + b for a, b in zip(left, values)]
        ax.set_xlabel("Số phản ánh")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=4, fontsize=8, frameon=False)
        ax.xaxis.get_major_locator().set_params(integer=True)
    scope = f"theo lĩnh vực – {report.unit_name}" if report.unit else "theo đơn vị"
    ax.set_title(_nfc(f"Phản ánh {report.period.title_vi} {scope}"), fontsize=11)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def render_xlsx(report: Report, tz) -> bytes:
    """The same tables as the e-mail, one sheet each, numbers as numbers, and every text as text:
    no cell is a formula, whatever a business wrote (a message starting with "=" would
    otherwise be a live formula in the file the scheduler mails out)."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    bold = Font(bold=True)

    def sheet(title: str, header: Sequence[str], rows: Iterable[Sequence], first: bool = False):
        ws = wb.active if first else wb.create_sheet()
        ws.title = title
        ws.append(list(header))
        for cell in ws[1]:
            cell.font = bold
        for row in rows:
            # characters a workbook cannot hold (C0 controls but tab and line breaks: Word's soft
            # break \x0b in a pasted text made openpyxl refuse the whole report) are left out
            ws.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])
            for cell in ws[ws.max_row]:
                if cell.data_type == "f":  # openpyxl takes a text starting with "=" for a formula
                    cell.data_type = "s"  # a business's text ("=HYPERLINK(...)") stays text
        for index, name in enumerate(header, start=1):
            ws.column_dimensions[get_column_letter(index)].width = max(12, min(60, len(str(name)) + 2))
        ws.freeze_panes = "A2"
        return ws

    def local(instant: Optional[datetime]):
        return None if instant is None else instant.astimezone(tz).replace(tzinfo=None)

    total = report.total
    summary = sheet("Tổng hợp", ("Chỉ tiêu", "Giá trị"), [
        ("Báo cáo", title_vi(report)), ("Kỳ", report.period.title_vi),  # "tuần 48/2026 (23/11/2026 – …)", not "2026-W48"
        ("Số liệu tính đến", local(report.as_of)),
        *zip(COLUMNS_VI, (*total.as_row(), total.unapproved)),
    ], first=True)
    summary.column_dimensions["A"].width = 45
    summary.column_dimensions["B"].width = 70
    summary["B4"].number_format = "dd/mm/yyyy hh:mm"
    sheet("Theo đơn vị", ("Mã đơn vị", "Đơn vị", *COLUMNS_VI),
          [(g.key, g.name, *g.counts.as_row(), g.counts.unapproved) for g in report.by_unit])
    sheet("Theo lĩnh vực", ("Mã lĩnh vực", "Lĩnh vực", *COLUMNS_VI),
          [(g.key, g.name, *g.counts.as_row(), g.counts.unapproved) for g in report.by_domain])
    sheet("Bài đăng", ("Mã trang", "Trang", "Đơn vị", "Tuần", "Số bài", "Tối thiểu", "Đánh giá"),
          [(p.page_id, p.page_name, report.unit_names.get(p.unit_code or "", p.unit_code or "-"), p.week, p.posts,
            p.minimum, "Đạt" if p.meets else "Chưa đạt") for p in report.posts])
    detail = sheet("Chi tiết", ("Mã phản ánh", "Đơn vị", "Lĩnh vực", "Tiếp nhận", "Hạn trả lời", "Trả lời",
                                "Kết quả", "Giờ làm việc", "Nội dung"),
                   [(l.code, report.unit_names.get(l.unit_code, l.unit_code), domain_name(l.domain),
                     local(l.received_at), local(l.due_at), local(l.answered_at), OUTCOME_VI[l.outcome],
                     None if l.response_hours is None else round(l.response_hours, 2), l.text[:500])
                    for l in report.lines])
    for column in ("D", "E", "F"):
        for cell in detail[column][1:]:
            cell.number_format = "dd/mm/yyyy hh:mm"
    sheet("Cách tính", ("Cách tính",), [(d,) for d in DEFINITIONS_VI]).column_dimensions["A"].width = 120
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
