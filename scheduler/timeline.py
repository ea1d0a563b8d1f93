"""When the scheduler acts on an open assignment: its reminders and escalations on the working-day
calendar (`timeline`, a worked example in its docstring), and the same timelines as seen at one
instant, cached for a pass over every open assignment (`Timelines`)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta, timezone
from typing import Optional

from scheduler.calendar import WorkingCalendar

REMINDER_STAGES = ("before_due", "half_time", "due_day")  # in increasing urgency


@dataclass(frozen=True)
class ReminderPlan:
    """What the scheduler does for an open assignment (the `reminders:` section of config.yml)."""

    half_time: bool = True
    due_day_morning: bool = True
    due_day_time: Optional[time] = None  # None: office opening
    before_due_working_days: int = 0  # extra reminder at the opening N working days before the due day
    escalation_repeat_working_days: int = 1  # 0: escalate once


@dataclass(frozen=True)
class Stage:
    """One reminder of an assignment: which one (see REMINDER_STAGES) and when it goes out."""

    name: str
    at: datetime


@dataclass(frozen=True)
class Timeline:
    """When the scheduler acts on an open assignment; every instant is inside office hours.

    `reminders` are in time order (and in increasing urgency); `escalation_at` is the first
    escalation, repeated every `repeat_working_days` working days (0: once) at the same clock time.
    """

    reminders: tuple[Stage, ...]
    escalation_at: datetime
    repeat_working_days: int

    @property
    def reminder_at(self) -> Optional[datetime]:
        """The first reminder (kept for callers of the one-reminder timeline)."""
        return self.reminders[0].at if self.reminders else None

    def reminder_due(self, now: datetime) -> Optional[Stage]:
        """The latest reminder whose time has come: an earlier one that was missed is superseded."""
        due = [stage for stage in self.reminders if stage.at <= now]
        return due[-1] if due else None

    def next_reminder(self, after: datetime) -> Optional[Stage]:
        return next((stage for stage in self.reminders if stage.at > after), None)

    def escalation_due(self, calendar: WorkingCalendar, now: datetime) -> Optional[datetime]:
        """The latest escalation instant at or before `now` (None before the first one)."""
        first = self.escalation_at
        if now < first:
            return None
        if self.repeat_working_days <= 0:
            return first
        tz = calendar.tz
        day, last = first.astimezone(tz).date(), now.astimezone(tz).date()
        working = 0
        while day < last:
            day += timedelta(days=1)
            if calendar.is_working_day(day):
                working += 1
        steps = working // self.repeat_working_days
        candidate = calendar.shift_working_days(first, steps * self.repeat_working_days)
        if candidate > now:  # same local day, earlier than the clock time
            steps -= 1
            candidate = calendar.shift_working_days(first, steps * self.repeat_working_days)
        return candidate

    def next_escalation(self, calendar: WorkingCalendar, after: datetime) -> Optional[datetime]:
        """The first escalation instant strictly after `after` (None when it is not repeated)."""
        current = self.escalation_due(calendar, after)
        if current is None:
            return self.escalation_at
        if self.repeat_working_days <= 0:
            return None
        return calendar.shift_working_days(current, self.repeat_working_days)


def add_working_time(calendar: WorkingCalendar, start: datetime, amount: timedelta) -> datetime:
    """The instant when `amount` of office time has elapsed from `start` (aware UTC).

    Delegates to the calendar, so that it counts the same sessions as
    `working_time_between` (no time passes at lunch). Landing exactly on the close of a
    session gives the next opening: offices are shut at close.
    """
    return calendar.add_working_time(start, amount)


def timeline(calendar: WorkingCalendar, plan: ReminderPlan, assigned_at: datetime, due: datetime) -> Timeline:
    """The reminders and escalations of one assignment (Decision 3887/QĐ-UBND deadlines).

    Rule (every instant is moved to the next opening if offices are shut then):
    - the allowed time is the counted working days: from the opening of the first working day
      after the day of assignment (that day is not counted, Civil Code Art. 147) to the due time;
    - "half_time": when half of that office time has passed;
    - "due_day": the morning of the due day, at `due_day_time` (default: office opening);
    - "before_due" (off by default): the opening N working days before the due day;
    - a reminder is kept only if it falls after the assignment, before the first escalation and
      strictly before every more urgent reminder (so a 2-day deadline, whose half time is the
      opening of the due day, gets one reminder, not two at the same instant);
    - escalation at the due time, which is the close of office, hence at the next opening,
      then every `escalation_repeat_working_days` working days while unanswered.

    Example (sessions 07:30-11:30 and 13:30-17:00, 7.5 h a day): received Fri 27/11/2026 10:00,
    3 working days, due Wed 02/12 17:00. Counted: Mon, Tue, Wed = 3 x 7.5 h = 22.5 h; half =
    11.25 h after Mon 07:30 = Mon's 7.5 h + 3.75 h of Tue's morning = Tue 01/12 11:15; due day
    Wed 02/12 07:30; escalations Thu 03/12 07:30, Fri 04/12 07:30, Mon 07/12 07:30, ...
    A half time that ends exactly at a session's close (11:30) goes out at the next opening (13:30).
    """
    tz = calendar.tz
    escalation = calendar.next_opening(due)
    candidates: dict[str, datetime] = {}
    due_day = due.astimezone(tz).date()
    if plan.due_day_morning:
        clock_time = plan.due_day_time or time(0)
        candidates["due_day"] = calendar.next_opening(datetime.combine(due_day, clock_time, tzinfo=tz))
    if plan.half_time:
        first_day = assigned_at.astimezone(tz).date() + timedelta(days=1)
        count_from = calendar.next_opening(datetime.combine(first_day, time(0), tzinfo=tz))
        if count_from < due:
            allowed = calendar.working_time_between(count_from, due)
            candidates["half_time"] = add_working_time(calendar, count_from, allowed / 2)
    if plan.before_due_working_days > 0:
        day = calendar.shift_working_days(due, -plan.before_due_working_days).astimezone(tz).date()
        candidates["before_due"] = calendar.next_opening(datetime.combine(day, time(0), tzinfo=tz))
    kept: list[Stage] = []
    limit = escalation
    for name in reversed(REMINDER_STAGES):  # most urgent first
        at = candidates.get(name)
        if at is None or at <= assigned_at or at >= limit:
            continue
        kept.append(Stage(name, at.astimezone(timezone.utc)))
        limit = at
    kept.reverse()
    return Timeline(reminders=tuple(kept), escalation_at=escalation.astimezone(timezone.utc),
                    repeat_working_days=max(0, plan.escalation_repeat_working_days))


# ------------------------------------------------------------------------ as seen at one instant
@dataclass(frozen=True)
class TimelineAt:
    """One timeline as seen at `now`: what is due (within the grace period) and what comes next."""

    timeline: Timeline
    due_iso: str  # as in the notification keys
    latest: Optional[Stage]  # the latest reminder at or before now, if not older than the grace period
    following: Optional[datetime]  # the first reminder after now
    escalation_now: Optional[datetime]  # the latest escalation at or before now, within the grace period
    escalation_day: Optional[str]  # its local date, as in the notification keys
    escalation_next: Optional[datetime]  # the first escalation after now


class Timelines:
    """Timelines as seen at one `now`, cached: assignments that share the day they were given
    and their due time share a timeline, so a pass over 100 000 computes a few hundred."""

    def __init__(self, calendar: WorkingCalendar, plan: ReminderPlan, now: datetime, grace: timedelta):
        self.calendar, self.plan, self.now, self.grace = calendar, plan, now, grace
        self._plans: dict[tuple, TimelineAt] = {}
        self._escalations: dict[datetime, tuple] = {}
        self.opening_now = calendar.next_opening(now)

    def get(self, assigned_at: datetime, due_at: datetime) -> TimelineAt:
        tz = self.calendar.tz
        key = (assigned_at.astimezone(tz).date(), due_at)
        found = self._plans.get(key)
        if found is None:
            start = datetime.combine(key[0], time(0), tzinfo=tz)
            found = self._plans[key] = self._see(timeline(self.calendar, self.plan, start, due_at), due_at)
        first = found.timeline.reminders[0].at if found.timeline.reminders else None
        if first is not None and first <= assigned_at:  # a reminder on the assignment's own day, before it
            kept = tuple(st for st in found.timeline.reminders if st.at > assigned_at)
            return self._see(replace(found.timeline, reminders=kept), due_at)
        return found

    def _see(self, plan: Timeline, due_at: datetime) -> TimelineAt:
        now = self.now
        latest = next((st for st in reversed(plan.reminders) if st.at <= now), None)
        if latest is not None and now - latest.at > self.grace:
            latest = None
        following = next((st.at for st in plan.reminders if st.at > now), None)
        escalation = self._escalations.get(due_at)
        if escalation is None:
            current = plan.escalation_due(self.calendar, now)
            if current is not None and now - current > self.grace:
                current = None
            day = current.astimezone(self.calendar.tz).date().isoformat() if current else None
            escalation = self._escalations[due_at] = (current, day, plan.next_escalation(self.calendar, now))
        return TimelineAt(plan, due_at.astimezone(timezone.utc).isoformat(), latest, following, *escalation)
