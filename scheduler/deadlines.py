"""The 3/2/5 working-day deadlines of Decision 3887/QĐ-UBND (Art. 9.5(đ)) on a calendar."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scheduler.calendar import WorkingCalendar


@dataclass(frozen=True)
class DeadlinePolicy:
    lead_days: int = 3
    coordination_days: int = 2
    complex_days: int = 5
    triage_days: int = 1
    remind_before_days: int = 1

    def days_for(self, role: str, *, complex_case: bool = False) -> int:
        if role == "lead":
            return self.complex_days if complex_case else self.lead_days
        if role == "coordinate":
            return self.coordination_days
        if role == "triage":
            return self.triage_days
        raise ValueError(f"unknown assignment role {role!r}")


def due_at(calendar: WorkingCalendar, policy: DeadlinePolicy, role: str, assigned_at: datetime,
           *, complex_case: bool = False) -> datetime:
    """The day of assignment is not counted; due at close of office on the N-th working day after."""
    return calendar.due(assigned_at, policy.days_for(role, complex_case=complex_case))
