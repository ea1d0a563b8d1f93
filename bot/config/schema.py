"""The schema of config.yml (pydantic): every section, its defaults and its checks.

A bad file stops every process with the file's path, the key and the reason (bot.config.settings
formats the errors); nothing runs half-configured.
"""
from __future__ import annotations

import ipaddress
import re
from datetime import time
from typing import Any, Optional

from pydantic import BaseModel, Extra, Field, root_validator, validator

from routing.taxonomy import DOMAIN_INTENTS



def ip_network(value: str, problem: str) -> str:
    """A network (or one address) as ipaddress writes it, else the key's error saying `problem`."""
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ValueError(f"{problem}: {value!r}") from None

class ConfigError(Exception):
    """The configuration cannot be used; the message names the file, the key and why."""


class _Model(BaseModel):
    class Config:
        extra = Extra.forbid
        allow_mutation = False


class UnitModel(_Model):
    code: str = Field(..., regex=r"^[A-Z][A-Z0-9_]*$")
    name: str
    name_en: Optional[str] = None  # English name for replies in English (sources: routing/data/quang-ninh-units.yml)
    kind: str = Field(..., regex=r"^(so|ban|nganh_trung_uong|dia_phuong)$")
    emails: list[str] = Field(..., min_items=1)
    head_email: Optional[str] = None
    domains: list[str] = []
    aliases: list[str] = []  # other names people use for the unit (recognised in complaints)
    # who approves the unit's answers besides its head_email and its accounts with role head
    # (deputies), cases/approval.py; four eyes: never the answer's author
    approvers: list[str] = []
    # a Vietnamese answer drafted by one of the approvers is sent when submitted (no second
    # approver); never an English one (Decision 3887, Art. 8.4)
    heads_send_vi: bool = False

    @validator("emails", "approvers", each_item=True)
    def _email(cls, v: str) -> str:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v):
            raise ValueError(f"not an email address: {v!r}")
        return v


class PageModel(_Model):
    id: str = Field(..., regex=r"^[0-9]+$")
    name: str
    name_en: Optional[str] = None  # the page's name for replies in English
    unit: str
    access_token_env: str = Field(..., regex=r"^[A-Z_][A-Z0-9_]*$")
    # Meta granted the page the Human Agent permission: a person's answer may then be sent
    # up to 7 days after the business's last message (tag HUMAN_AGENT).
    human_agent: bool = False


class ConversationModel(_Model):
    followup_minutes: int = Field(30, ge=0)  # a message this soon after an open inquiry joins it (if the same matter)
    # a follow-up that reads as a new matter: the business is asked; no answer within this
    # many minutes opens it as a new inquiry (bot/conversation/followup.py)
    followup_choice_minutes: int = Field(10, ge=1)
    ask_contact: bool = True  # ask once for a phone number or e-mail when the business gave none
    public_comment_reply: bool = True  # also answer a comment publicly (besides the private reply)


class SmtpModel(_Model):
    host: str = "127.0.0.1"
    port: int = 25
    sender: str
    starttls: bool = False
    ssl: bool = False
    timeout_seconds: float = 20
    username_env: Optional[str] = None
    password_env: Optional[str] = None


class NluModel(_Model):
    project_dir: str = "nlu"
    model_dir: str = "models"
    threshold: float = Field(0.5, ge=0, le=1)
    min_margin: float = Field(0.0, ge=0, le=1)
    server_url: Optional[str] = None
    # where the admins' NLU inbox writes its accepted examples (inbox.yml, Rasa's format);
    # None: the project's own data/ folder (development). Trained on with the project's data.
    inbox_data_dir: Optional[str] = None
    # how alike two messages must be to be one group in the inbox (rapidfuzz ratio, 0-100)
    inbox_similarity: float = Field(90, ge=50, le=100)


class DeadlinesModel(_Model):
    lead_days: int = Field(3, ge=1)
    coordination_days: int = Field(2, ge=1)
    complex_days: int = Field(5, ge=1)
    triage_days: int = Field(1, ge=1)


class RemindersModel(_Model):
    """The timeline of an open assignment (scheduler.timeline.timeline) and the scheduler's lease."""

    half_time: bool = True  # remind when half of the allowed working time has passed
    due_day_morning: bool = True  # remind on the morning of the due day ...
    due_day_time: Optional[str] = None  # ... at this local time "HH:MM" (None: office opening)
    escalation_repeat_working_days: int = Field(1, ge=0)  # repeat while overdue (0: escalate once)
    before_due_working_days: int = Field(0, ge=0)  # extra reminder N working days before the due day (0: none)
    missed_grace_hours: float = Field(72, gt=0)  # a reminder missed while down is still sent within this
    lock_lease_seconds: int = Field(60, ge=5)  # one active scheduler: the lease its holder renews

    @staticmethod
    def clock_time(value: Any) -> Optional[time]:
        """A quoted "HH:MM" -> time; YAML reads an unquoted 07:30 as the number 450."""
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            raise ValueError(f'got the number {value}; quote the time in YAML, e.g. "07:30"')
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", str(value).strip())
        if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            raise ValueError(f'{value!r} is not a time "HH:MM"')
        return time(int(match.group(1)), int(match.group(2)))

    @validator("due_day_time", pre=True)
    def _due_day_time(cls, v: Any) -> Optional[str]:
        parsed = cls.clock_time(v)
        return None if parsed is None else parsed.strftime("%H:%M")


class ReportsModel(_Model):
    """Weekly (Thursday) and monthly reports of Decision 3887/QĐ-UBND, Art. 10 (scheduler.reports)."""

    recipients: list[str] = []  # the whole report; empty: the standing office's e-mails
    unit_extracts: bool = True  # each unit head gets their unit's extract
    weekly_weekday: str = Field("thu", regex=r"^(mon|tue|wed|thu|fri|sat|sun)$")
    weekly_time: str = "08:00"
    monthly_day: int = Field(1, ge=1, le=28)
    monthly_time: str = "08:00"
    min_posts_per_week: int = Field(5, ge=0)

    @validator("recipients", each_item=True)
    def _email(cls, v: str) -> str:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v):
            raise ValueError(f"not an email address: {v!r}")
        return v

    @validator("weekly_time", "monthly_time", pre=True)
    def _time(cls, v: Any) -> str:
        parsed = RemindersModel.clock_time(v)
        if parsed is None:
            raise ValueError('a time "HH:MM" is required')
        return parsed.strftime("%H:%M")


def _email_address(v: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v):
        raise ValueError(f"not an email address: {v!r}")
    return v


class ZoneRuleModel(_Model):
    unit: str
    domains: list[str]


class RoutingModel(_Model):
    domains: dict[str, str]
    zone: Optional[ZoneRuleModel] = None
    page_keeps_below: float = Field(0.85, ge=0, le=1)
    complaint_informs_standing_office: bool = True
    coordination: dict[str, list[str]] = {}


class WebhookModel(_Model):
    max_body_bytes: int = Field(262144, ge=1024)


class AppModel(_Model):
    base_url: str = "http://127.0.0.1:5000"
    tracking_prefix: str = Field("QN", regex=r"^[A-Z]{1,6}$")
    graph_api_version: str = Field("v21.0", regex=r"^v[0-9]+\.[0-9]+$")
    facebook_app_id: Optional[str] = None  # our app: its own echoes are ignored
    worker_poll_seconds: float = Field(0.5, gt=0)
    event_lease_seconds: int = Field(120, ge=5)
    max_event_attempts: int = Field(5, ge=1)
    # Send API calls in flight at once per page (and notices per channel) while the worker sends
    # (bot/sending.py); Facebook's rate-limit answers pause the page whatever the number.
    send_in_flight_per_page: int = Field(8, ge=1, le=32)
    # How much the worker lowers its own CPU priority (os.nice) so that the web process answers
    # Facebook at once while a burst is worked (README "Scaling"); 0 leaves it as it is.
    worker_nice: int = Field(10, ge=0, le=19)
    # `flask worker` sends the outbox and the notifications from a child process of its own
    # (`flask sender`, bot/sender.py), so sending uses another core than classifying and the
    # lifecycle (README "Scaling"); false: threads inside the worker process.
    sender_process: bool = True
    # Reverse proxies in front of the web process (nginx: 1). Their X-Forwarded-For/-Proto/-Host
    # are trusted that many hops deep, so the audit log and the login throttle see the client's
    # address, not the proxy's. 0: no proxy, the socket's address is the client.
    trusted_proxies: int = Field(0, ge=0, le=5)
    # ... and only on connections from these addresses (bot/proxies.py): gunicorn is reachable
    # directly too, where anyone could write those headers. Default: nginx on this machine.
    proxy_addresses: list[str] = ["127.0.0.1/32", "::1/128"]

    @validator("proxy_addresses", each_item=True)
    def _proxy_network(cls, v: str) -> str:
        return ip_network(v, "not an IP address or network (e.g. 127.0.0.1 or 10.0.0.5)")


class MetricsModel(_Model):
    """Who may read /metrics (bot/metrics.py): loopback always, these networks too, and anyone
    with METRICS_TOKEN as a bearer token. Unit names and counts only, no business's text: still
    not for the internet."""

    allow_networks: list[str] = []  # e.g. ["10.0.0.0/8"]: where Prometheus scrapes from

    @validator("allow_networks", each_item=True)
    def _network(cls, v: str) -> str:
        return ip_network(v, "not an IP network (e.g. 10.0.0.0/8 or 192.168.1.5)")


class ConsoleModel(_Model):
    """The officers' console (bot/console): sessions, login throttling, one-time password links."""

    session_idle_minutes: int = Field(30, ge=1, le=24 * 60)  # a session ends after this long unused
    password_link_hours: int = Field(24, ge=1, le=7 * 24)  # a one-time link to set a password expires
    login_window_minutes: int = Field(15, ge=1)  # failures are counted over this window ...
    login_max_failures_per_account: int = Field(5, ge=1)  # ... per e-mail typed, known or not
    login_max_failures_per_address: int = Field(20, ge=1)  # ... per client address
    page_size: int = Field(50, ge=5, le=500)  # rows per page of a list


class ConfigModel(_Model):
    app: AppModel = AppModel()
    # who maintains this deployment: told by e-mail about the configuration itself (from 1 December,
    # weekly, while next year's days off are not declared); empty: the standing office's e-mails
    admins: list[str] = []
    standing_office: str
    units: list[UnitModel] = Field(..., min_items=1)
    pages: list[PageModel] = Field(..., min_items=1)
    routing: RoutingModel
    nlu: NluModel = NluModel()
    deadlines: DeadlinesModel = DeadlinesModel()
    reminders: RemindersModel = RemindersModel()
    reports: ReportsModel = ReportsModel()
    webhook: WebhookModel = WebhookModel()
    conversation: ConversationModel = ConversationModel()
    console: ConsoleModel = ConsoleModel()
    metrics: MetricsModel = MetricsModel()
    smtp: SmtpModel
    calendar: dict[str, Any]
    # Who is told at once when a page's token expires, and when a channel (Facebook, the mail
    # server) keeps failing for an hour; empty: the standing office's e-mails (bot/runtime.py).
    admins: list[str] = []

    @validator("admins", each_item=True)
    def _admin_email(cls, v: str) -> str:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v):
            raise ValueError(f"not an email address: {v!r}")
        return v

    _admin_email = validator("admins", each_item=True, allow_reuse=True)(_email_address)

    @root_validator(skip_on_failure=True)
    def _references(cls, values: dict) -> dict:
        codes = [u.code for u in values["units"]]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"units: duplicate code(s) {', '.join(dupes)}")
        known = set(codes)
        if values["standing_office"] not in known:
            raise ValueError(f"standing_office: unknown unit {values['standing_office']!r}")
        ids = [p.id for p in values["pages"]]
        if len(set(ids)) != len(ids):
            raise ValueError("pages: the same page id is listed twice")
        for i, page in enumerate(values["pages"]):
            if page.unit not in known:
                raise ValueError(f"pages[{i}].unit: unknown unit {page.unit!r}")
        for domain, unit in values["routing"].domains.items():
            if domain not in DOMAIN_INTENTS:
                raise ValueError(f"routing.domains: unknown domain {domain!r}")
            if unit not in known:
                raise ValueError(f"routing.domains.{domain}: unknown unit {unit!r}")
        missing = [d for d in DOMAIN_INTENTS if d not in values["routing"].domains]
        if missing:
            raise ValueError(f"routing.domains: no unit for {', '.join(missing)}")
        zone = values["routing"].zone
        if zone is not None:
            if zone.unit not in known:
                raise ValueError(f"routing.zone.unit: unknown unit {zone.unit!r}")
            bad = [d for d in zone.domains if d not in DOMAIN_INTENTS]
            if bad:
                raise ValueError(f"routing.zone.domains: unknown domain(s) {', '.join(bad)}")
        for domain, units in values["routing"].coordination.items():
            if domain not in DOMAIN_INTENTS:
                raise ValueError(f"routing.coordination: unknown domain {domain!r}")
            for unit in units:
                if unit not in known:
                    raise ValueError(f"routing.coordination.{domain}: unknown unit {unit!r}")
        return values

    def page_voices(self) -> dict[str, dict[str, str]]:
        """The name the bot speaks in on each unit's own page, by language (bot/conversation/
        texts.py `voice`); the standing office's pages speak as the DDCI programme (absent)."""
        return {p.id: {"vi": p.name, **({"en": p.name_en} if p.name_en else {})} for p in self.pages
                if p.unit != self.standing_office}
