"""Build the long-running components from Settings (plain values in, objects out)."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from bot.config import Settings
from bot.officers import MessengerOfficers
from bot.sendapi import SendApiClient
from routing.gazetteer import Gazetteer
from routing.rules import RoutingTable
from routing.units import UnitMatcher
from scheduler.calendar import WorkingCalendar
from scheduler.deadlines import DeadlinePolicy
from scheduler.notifications.email import EmailNotifier
from scheduler.notifications.router import ChannelRouter
from store import Database


def calendar(settings: Settings) -> WorkingCalendar:
    return WorkingCalendar.from_mapping(settings.calendar_section())


def policy(settings: Settings) -> DeadlinePolicy:
    d, r = settings.config.deadlines, settings.config.reminders
    return DeadlinePolicy(d.lead_days, d.coordination_days, d.complex_days, d.triage_days, r.before_due_working_days)


def routing_table(settings: Settings) -> RoutingTable:
    r = settings.config.routing
    return RoutingTable(
        domain_units=dict(r.domains),
        standing_office=settings.config.standing_office,
        page_units={p.id: p.unit for p in settings.config.pages},
        zone_unit=r.zone.unit if r.zone else None,
        zone_domains=frozenset(r.zone.domains) if r.zone else frozenset(),
        page_keeps_below=r.page_keeps_below,
        complaint_informs_office=r.complaint_informs_standing_office,
        coordination={d: tuple(us) for d, us in r.coordination.items()},
    )


def unit_matcher(settings: Settings) -> UnitMatcher:
    return UnitMatcher((u.code, UnitMatcher.names_for(u.name, u.kind, u.aliases)) for u in settings.config.units)


def send_api(settings: Settings) -> SendApiClient:
    """The one Send API client, with the app secret for appsecret_proof."""
    return SendApiClient(settings.graph_api_url, settings.config.app.graph_api_version,
                         app_secret=settings.app_secret)


def notifier(settings: Settings) -> EmailNotifier:
    smtp = settings.config.smtp
    return EmailNotifier(host=smtp.host, port=smtp.port, sender=smtp.sender, starttls=smtp.starttls,
                         use_ssl=smtp.ssl, username=settings.smtp_username, password=settings.smtp_password,
                         timeout=smtp.timeout_seconds)


def notifiers(settings: Settings, db: Database, clock: Callable[[], datetime]):
    """E-mail for every notification, Messenger for officers who linked their account."""
    from bot.officers import MessengerNotifier

    messenger = MessengerNotifier(db=db, client=send_api(settings), tokens=dict(settings.page_tokens), clock=clock)
    return ChannelRouter(notifier(settings), messenger)


def fanouts() -> tuple:
    """Who gets a copy of a unit's e-mail notices elsewhere: its officers who linked Messenger."""
    return (MessengerOfficers(),)


def classifier(settings: Settings):
    from nlu.classifier import build_classifier

    nlu = settings.config.nlu
    return build_classifier(settings.model_dir, nlu.threshold, nlu.min_margin, nlu.server_url)


def worker(settings: Settings, db: Database, clock: Callable[[], datetime], classifier_=None):
    from bot.worker import Worker

    return Worker(
        db=db, settings=settings, classifier=classifier_ or classifier(settings),
        sender=send_api(settings),
        notifier=notifiers(settings, db, clock), calendar=calendar(settings), gazetteer=Gazetteer.from_files(),
        table=routing_table(settings), units=unit_matcher(settings), policy=policy(settings), clock=clock,
        fanouts=fanouts(),
    )


def reminder_plan(settings: Settings):
    from bot.config import RemindersModel
    from scheduler.timeline import ReminderPlan

    r = settings.config.reminders
    return ReminderPlan(half_time=r.half_time, due_day_morning=r.due_day_morning,
                        due_day_time=RemindersModel.clock_time(r.due_day_time),
                        before_due_working_days=r.before_due_working_days,
                        escalation_repeat_working_days=r.escalation_repeat_working_days)


def report_service(settings: Settings, db: Database, clock: Callable[[], datetime]):
    from bot.config import RemindersModel
    from scheduler.reports import PageInfo, ReportSchedule, ReportService, UnitInfo

    r, config = settings.config.reports, settings.config
    recipients = r.recipients or list(settings.unit(config.standing_office).emails)
    schedule = ReportSchedule(weekly_weekday=r.weekly_weekday, weekly_time=RemindersModel.clock_time(r.weekly_time),
                              monthly_day=r.monthly_day, monthly_time=RemindersModel.clock_time(r.monthly_time))
    return ReportService(db=db, calendar=calendar(settings), notifier=notifier(settings), clock=clock,
                         units=[UnitInfo(u.code, u.name, u.head_email) for u in config.units],
                         pages=[PageInfo(p.id, p.name, p.unit) for p in config.pages], recipients=recipients,
                         unit_extracts=r.unit_extracts, schedule=schedule, min_posts=r.min_posts_per_week)


def reminder_service(settings: Settings, db: Database, clock: Callable[[], datetime], *, holder: str | None = None):
    from datetime import timedelta

    from scheduler.reminders import ReminderService, UnitContacts

    r = settings.config.reminders
    units = {u.code: UnitContacts(u.name, tuple(u.emails), u.head_email) for u in settings.config.units}
    return ReminderService(db=db, calendar=calendar(settings), policy=policy(settings),
                           notifier=notifiers(settings, db, clock),
                           units=units, standing_office=settings.config.standing_office,
                           clock=clock, plan=reminder_plan(settings),
                           missed_grace=timedelta(hours=r.missed_grace_hours),
                           lease=timedelta(seconds=r.lock_lease_seconds),
                           reports=report_service(settings, db, clock), holder=holder, fanouts=fanouts())
