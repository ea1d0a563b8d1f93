"""Build the long-running components from Settings (plain values in, objects out)."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from bot.config import Settings
from bot.sendapi import SendApiClient
from routing.gazetteer import Gazetteer
from routing.rules import RoutingTable
from routing.units import UnitMatcher
from scheduler.calendar import WorkingCalendar
from scheduler.deadlines import DeadlinePolicy
from scheduler.notify import EmailNotifier
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


def notifier(settings: Settings) -> EmailNotifier:
    smtp = settings.config.smtp
    return EmailNotifier(host=smtp.host, port=smtp.port, sender=smtp.sender, starttls=smtp.starttls,
                         use_ssl=smtp.ssl, username=settings.smtp_username, password=settings.smtp_password,
                         timeout=smtp.timeout_seconds)


def classifier(settings: Settings):
    from nlu.classifier import build_classifier

    nlu = settings.config.nlu
    return build_classifier(settings.model_dir, nlu.threshold, nlu.min_margin, nlu.server_url)


def worker(settings: Settings, db: Database, clock: Callable[[], datetime], classifier_=None):
    from bot.worker import Worker

    return Worker(
        db=db, settings=settings, classifier=classifier_ or classifier(settings),
        sender=SendApiClient(settings.graph_api_url, settings.config.app.graph_api_version),
        notifier=notifier(settings), calendar=calendar(settings), gazetteer=Gazetteer.from_files(),
        table=routing_table(settings), units=unit_matcher(settings), policy=policy(settings), clock=clock,
    )


def reminder_service(settings: Settings, db: Database, clock: Callable[[], datetime]):
    from scheduler.service import ReminderService, UnitContacts

    units = {u.code: UnitContacts(u.name, tuple(u.emails), u.head_email) for u in settings.config.units}
    return ReminderService(db=db, calendar=calendar(settings), policy=policy(settings), notifier=notifier(settings),
                           units=units, standing_office=settings.config.standing_office,
                           base_url=settings.config.app.base_url, clock=clock)
