"""`flask report weekly|monthly`: the reports of Decision 3887/QĐ-UBND, Art. 10."""
from __future__ import annotations

from flask.cli import AppGroup

report_cli = AppGroup("report", help="Weekly (Thursday) and monthly reports.")
