"""The composition root: build the long-running components from Settings (plain values in,
objects out). Nothing else reads Settings to wire objects together."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, Mapping, Optional

from bot.channels import build_all
from bot.channels.base import Channel
from bot.channels.messenger.notifier import MessengerNotifier
from bot.channels.messenger.sendapi import client_for
from bot.config import RemindersModel, Settings
from bot.conversation import Conversation
from bot.conversation.names import Names, lookups_of
from bot.delivery import OutboxDelivery
from bot.officers import MessengerOfficers
from bot.sending import Sending
from bot.worker import Worker, lanes
from cases import Address, Casework
from cases.approval import ApprovalRules, UnitApproval
from nlu.classifier import MAX_CLASSIFY_CHARS, Batched
from routing.gazetteer import Gazetteer
from routing.rules import RoutingTable
from routing.units import Directory, Page, Unit, UnitMatcher
from scheduler.calendar import WorkingCalendar
from scheduler.deadlines import DeadlinePolicy
from scheduler.notifications.delivery import NotificationDelivery
from scheduler.notifications.email import EmailNotifier
from scheduler.notifications.router import ChannelRouter
from scheduler.reminders import ReminderService, UnitContacts
from scheduler.reports import PageInfo, ReportSchedule, ReportService, UnitInfo
from scheduler.timeline import ReminderPlan
from store import Database

FANOUTS = (MessengerOfficers(),)  # unit notices also reach officers who linked Messenger


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


def directory(settings: Settings) -> Directory:
    return Directory((Unit(u.code, u.name, u.kind, tuple(u.emails), u.head_email, u.name_en)
                      for u in settings.config.units), settings.config.standing_office,
                     (Page(p.id, p.name, p.name_en) for p in settings.config.pages))


def approval_rules(settings: Settings) -> ApprovalRules:
    """Each unit's approvers (head_email + `approvers`) and its `heads_send_vi` setting."""
    units = {u.code: UnitApproval(frozenset(e.strip().lower() for e in [*u.approvers, u.head_email] if e),
                                  u.heads_send_vi) for u in settings.config.units}
    return ApprovalRules(units, settings.config.standing_office)


def answer_window(channels: Mapping[str, Channel]) -> Callable[[object, Address], Optional[datetime]]:
    """The channels' window for a person's answer, for cases (a channel without one: no limit)."""
    def window_for(s, address: Address) -> Optional[datetime]:
        window = getattr(channels.get(address.channel), "answer_window", None)
        return window(s, address) if window is not None else None
    return window_for


def text_limits(channels: Mapping[str, Channel]) -> Callable[[Address], Optional[int]]:
    """The channels' longest text for one message, for cases (a channel without one: no limit)."""
    def text_limit_for(address: Address) -> Optional[int]:
        limit = getattr(channels.get(address.channel), "text_limit", None)
        return limit(address) if limit is not None else None
    return text_limit_for


def casework(settings: Settings, db: Database, clock: Callable[[], datetime],
             channels: Optional[Mapping[str, Channel]] = None) -> Casework:
    channels = build_all(settings, db, clock) if channels is None else channels
    return Casework(db=db, directory=directory(settings), table=routing_table(settings),
                    gazetteer=Gazetteer.from_files(), matcher=unit_matcher(settings), calendar=calendar(settings),
                    policy=policy(settings), clock=clock, tracking_prefix=settings.config.app.tracking_prefix,
                    fanouts=FANOUTS, base_url=settings.config.app.base_url, rules=approval_rules(settings),
                    window_for=answer_window(channels), text_limit_for=text_limits(channels))


def notifier(settings: Settings) -> EmailNotifier:
    smtp = settings.config.smtp
    return EmailNotifier(host=smtp.host, port=smtp.port, sender=smtp.sender, starttls=smtp.starttls,
                         use_ssl=smtp.ssl, username=settings.smtp_username, password=settings.smtp_password,
                         timeout=smtp.timeout_seconds)


def notifiers(settings: Settings, db: Database, clock: Callable[[], datetime]) -> ChannelRouter:
    """E-mail for every notification, Messenger for officers who linked their account."""
    messenger = MessengerNotifier(db=db, client=client_for(settings), tokens=dict(settings.page_tokens), clock=clock)
    return ChannelRouter(notifier(settings), messenger)


def admins(settings: Settings) -> list[str]:
    """Who is told about the deployment itself (a page's token expired, a channel keeps failing,
    next year's days off undeclared): `admins:` in config.yml, else the standing office's
    e-mails (an alert must reach someone)."""
    return list(settings.config.admins) or list(settings.unit(settings.config.standing_office).emails)


def notification_delivery(settings: Settings, db: Database, clock: Callable[[], datetime]) -> NotificationDelivery:
    return NotificationDelivery(db=db, notifier=notifiers(settings, db, clock), clock=clock, fanouts=FANOUTS,
                                admins=admins(settings), unit_names={u.code: u.name for u in settings.config.units})


def classifier(settings: Settings):
    from nlu.classifier import build_classifier  # loads Rasa (in process) only when a model is used

    nlu = settings.config.nlu
    return build_classifier(settings.model_dir, nlu.threshold, nlu.min_margin, nlu.server_url)


def model_registry(settings: Settings, db: Database, clock: Callable[[], datetime]):
    from tuning.versions import ModelRegistry

    return ModelRegistry(db=db, model_dir=settings.model_dir, clock=clock, server_url=settings.config.nlu.server_url)


def nlu_inbox(settings: Settings, db: Database, clock: Callable[[], datetime]):
    """The admins' NLU inbox (tuning.inbox), for the console and the CLI."""
    from tuning.inbox import Inbox

    return Inbox.for_project(db=db, project_dir=settings.nlu_project_dir, data_dir=settings.inbox_data_dir,
                             clock=clock, similarity=settings.config.nlu.inbox_similarity)


def training_queue(settings: Settings, db: Database, clock: Callable[[], datetime],
                   echo: Optional[Callable[[str], None]] = None):
    from tuning.jobs import TrainingQueue

    return TrainingQueue(db=db, clock=clock, project_dir=settings.nlu_project_dir, inbox_dir=settings.inbox_data_dir,
                         echo=echo)


def training_runner(settings: Settings, db: Database, clock: Callable[[], datetime],
                    echo: Optional[Callable[[str], None]] = None):
    """What the worker runs retraining jobs with (tuning.jobs); `echo` also prints the job's
    log lines as they come (`flask nlu train`)."""
    from tuning.jobs import Trainer, TrainingRunner

    queue, nlu = training_queue(settings, db, clock, echo), settings.config.nlu
    trainer = Trainer(queue=queue, registry=model_registry(settings, db, clock), project_dir=settings.nlu_project_dir,
                      inbox_dir=settings.inbox_data_dir, heldout_dir=settings.heldout_dir, threshold=nlu.threshold,
                      min_margin=nlu.min_margin)
    return TrainingRunner(queue, trainer)


def worker(settings: Settings, db: Database, clock: Callable[[], datetime], classifier_=None) -> Worker:
    model = classifier_ or classifier(settings)
    channels = build_all(settings, db, clock)
    cases = casework(settings, db, clock, channels)
    talk = settings.config.conversation
    batched = Batched(model, MAX_CLASSIFY_CHARS)  # the worker classifies a claimed batch's texts at once
    conversation = Conversation(
        db=db, casework=cases, classify=batched.classify, prime=batched.prime,
        followup_minutes=talk.followup_minutes, followup_choice_minutes=talk.followup_choice_minutes,
        ask_contact=talk.ask_contact, public_comment_reply=talk.public_comment_reply,
        channel_titles={name: c.title for name, c in channels.items()},
        page_names={p.id: p.name for p in settings.config.pages}, page_voices=settings.config.page_voices(),
        clock=clock, names=Names(db, lookups_of(channels), clock))
    app = settings.config.app
    delivery = outbox_delivery(settings, db, clock, channels, cases)
    return Worker(db=db, channels=channels, conversation=conversation, delivery=delivery,
                  notifications=notification_delivery(settings, db, clock), classifier=model,
                  is_page=lambda page_id: page_id is not None and settings.page(page_id) is not None,
                  clock=clock, lease_seconds=app.event_lease_seconds, max_attempts=app.max_event_attempts,
                  training=training_runner(settings, db, clock),
                  per_page_in_flight=app.send_in_flight_per_page)


def outbox_delivery(settings: Settings, db: Database, clock: Callable[[], datetime],
                    channels: Mapping[str, Channel], cases: Casework) -> OutboxDelivery:
    return OutboxDelivery(db=db, channels=channels, casework=cases, clock=clock, admins=admins(settings),
                          page_names={p.id: p.name for p in settings.config.pages})


def sender(settings: Settings, db: Database, clock: Callable[[], datetime]) -> Sending:
    """What `flask sender` runs: the worker's delivery lanes without the worker (no model)."""
    channels = build_all(settings, db, clock)
    cases = casework(settings, db, clock, channels)
    delivery = outbox_delivery(settings, db, clock, channels, cases)
    return Sending(lanes(delivery, notification_delivery(settings, db, clock)),
                   per_scope=settings.config.app.send_in_flight_per_page)


def reminder_plan(settings: Settings) -> ReminderPlan:
    r = settings.config.reminders
    return ReminderPlan(half_time=r.half_time, due_day_morning=r.due_day_morning,
                        due_day_time=RemindersModel.clock_time(r.due_day_time),
                        before_due_working_days=r.before_due_working_days,
                        escalation_repeat_working_days=r.escalation_repeat_working_days)


def report_service(settings: Settings, db: Database, clock: Callable[[], datetime]) -> ReportService:
    r, config = settings.config.reports, settings.config
    recipients = r.recipients or list(settings.unit(config.standing_office).emails)
    schedule = ReportSchedule(weekly_weekday=r.weekly_weekday, weekly_time=RemindersModel.clock_time(r.weekly_time),
                              monthly_day=r.monthly_day, monthly_time=RemindersModel.clock_time(r.monthly_time))
    return ReportService(db=db, calendar=calendar(settings), notifier=notifier(settings), clock=clock,
                         units=[UnitInfo(u.code, u.name, u.head_email) for u in config.units],
                         pages=[PageInfo(p.id, p.name, p.unit) for p in config.pages], recipients=recipients,
                         unit_extracts=r.unit_extracts, schedule=schedule, min_posts=r.min_posts_per_week,
                         archive=settings.instance_path / "reports")


def reminder_service(settings: Settings, db: Database, clock: Callable[[], datetime], *,
                     holder: str | None = None) -> ReminderService:
    r = settings.config.reminders
    units = {u.code: UnitContacts(u.name, tuple(u.emails), u.head_email) for u in settings.config.units}
    return ReminderService(db=db, calendar=calendar(settings), policy=policy(settings),
                           notifier=notifiers(settings, db, clock),
                           units=units, standing_office=settings.config.standing_office,
                           clock=clock, plan=reminder_plan(settings),
                           missed_grace=timedelta(hours=r.missed_grace_hours),
                           lease=timedelta(seconds=r.lock_lease_seconds),
                           reports=report_service(settings, db, clock), holder=holder, fanouts=FANOUTS,
                           base_url=settings.config.app.base_url,
                           pages={p.id: p.name for p in settings.config.pages}, admins=admins(settings))
