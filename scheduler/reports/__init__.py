"""Weekly and monthly reports (Decision 3887/QĐ-UBND, Art. 10.2: weekly, on Thursday; Art. 10.5:
monthly), built from the database, rendered as HTML + text + a chart (PNG) + a workbook (.xlsx),
and e-mailed: the whole report to the configured recipients, each unit head their unit's extract.

Definitions (also printed in every report, in Vietnamese):

- Period. Weekly: one ISO week, Monday 00:00 to Sunday 24:00 local time (Asia/Ho_Chi_Minh),
  labelled like ``2026-W48``. The report sent on Thursday covers the PREVIOUS complete week: by
  Thursday every 3-working-day deadline of that week has passed (an inquiry received on Sunday
  is due on Wednesday 17:00), so "late" and "overdue" mean something, and the 5-posts-a-week
  minimum can only be judged on a whole week. Monthly: a calendar month in local time
  (``2026-11``), sent on the 1st for the month before.
- Cut-off (``as_of``). Counts are as of the report's scheduled sending time (Thursday at the
  configured hour after the week; the 1st at the configured hour after the month), or of the
  moment the report is built if that is earlier. Rebuilding a report later gives the numbers
  that were sent.
- Cohort. Every count is about the inquiries RECEIVED in the period (``received_at``).
- Unit. The unit of the inquiry's lead assignment (role ``lead``; ``triage`` while the standing
  office has not assigned it) current when it was answered, or at the cut-off if unanswered.
  Coordinating units are not counted. Domain: the classified intent.
- received: all of them. assigned: those with a ``lead`` assignment made by the cut-off.
  answered on time: ``answered_at`` <= cut-off and ``answered_at <= due_at`` of that lead
  assignment. answered late: answered by the cut-off, after that due time. open: not answered by
  the cut-off (an inquiry closed without an answer is neither answered nor open). overdue: open
  and its due time is before the cut-off.
- answered without approval ("gửi không qua phê duyệt"): answered by the cut-off on the channel's
  page itself (typed in Meta Business Suite or under the comment), not through a draft approved in
  the console (Decision 3887, Art. 9.5(a)); a column after the median.
- Response time: office time (WorkingCalendar.working_time_between) from ``received_at`` to
  ``answered_at``, in working hours; the report gives the median of the answered inquiries.
- Posts: each page's own posts (PagePost rows, ``iso_week`` in local time) not removed by the
  cut-off, against the minimum (5 a week). Monthly: the ISO weeks whose Thursday falls in the
  month (ISO's rule for the month a week belongs to).

The package: period.py (weeks and months), build.py (the counts), render.py (HTML, text, chart,
workbook), service.py (build, write and e-mail them), jobs.py (the scheduler's report jobs).
"""
from scheduler.reports.build import (UNCLASSIFIED, Counts, Group, Line, PageInfo, PostCount, Report, build_report,
                                     domain_name, summarize)
from scheduler.reports.jobs import ensure_report_jobs, run_report
from scheduler.reports.period import (KINDS, Period, iso_week_label, month_period, parse_period, period_before,
                                      week_period)
from scheduler.reports.render import (COLUMNS_VI, DEFINITIONS_VI, OUTCOME_VI, file_stem, render_chart, render_html,
                                      render_text, render_xlsx, subject_vi, title_vi)
from scheduler.reports.service import (RETRY_FOR, XLSX_MIME, RenderedReport, ReportSchedule, ReportService,
                                       UnitInfo)

__all__ = [
    "COLUMNS_VI", "Counts", "DEFINITIONS_VI", "Group", "KINDS", "Line", "OUTCOME_VI", "PageInfo", "RETRY_FOR",
    "Period", "PostCount", "RenderedReport", "Report", "ReportSchedule", "ReportService", "UNCLASSIFIED",
    "UnitInfo", "XLSX_MIME", "build_report", "domain_name", "ensure_report_jobs", "file_stem", "iso_week_label",
    "month_period", "parse_period", "period_before", "render_chart", "render_html", "render_text", "render_xlsx",
    "run_report", "subject_vi", "summarize", "title_vi", "week_period",
]
