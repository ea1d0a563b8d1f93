"""Deployment configuration: config.yml plus secrets from the environment, validated at start.

A bad file stops every process with the file's path, the key and the reason; nothing runs
half-configured. Classes elsewhere receive plain values from here and never read config
themselves.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml
from pydantic import BaseModel, Extra, Field, ValidationError, root_validator, validator

from routing.taxonomy import DOMAIN_INTENTS

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = REPO_ROOT / "config.yml"
DEFAULT_GRAPH_API_URL = "https://graph.facebook.com"
DEV_APP_SECRET = "sandbox-app-secret"
DEV_VERIFY_TOKEN = "sandbox-verify-token"


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

    @validator("emails", each_item=True)
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
    followup_minutes: int = Field(30, ge=0)  # a message this soon after an open inquiry joins it
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


class ConfigModel(_Model):
    app: AppModel = AppModel()
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
    smtp: SmtpModel
    calendar: dict[str, Any]

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


@dataclass(frozen=True)
class Settings:
    """Everything a process needs, as plain values (config file + environment)."""

    config_path: Path
    config: ConfigModel
    environment: str
    database_url: str
    graph_api_url: str
    app_secret: str
    verify_token: str
    page_tokens: Mapping[str, Optional[str]]
    app_id: Optional[str] = None  # our Facebook app id (FB_APP_ID or app.facebook_app_id)
    smtp_username: Optional[str] = None
    smtp_password: Optional[str] = None
    instance_path: Path = field(default=REPO_ROOT / "instance")

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    def unit(self, code: str) -> UnitModel:
        for unit in self.config.units:
            if unit.code == code:
                return unit
        raise KeyError(code)

    def page(self, page_id: str) -> Optional[PageModel]:
        for page in self.config.pages:
            if page.id == page_id:
                return page
        return None

    @property
    def model_dir(self) -> Path:
        return _resolve(self.config.nlu.model_dir)

    @property
    def nlu_project_dir(self) -> Path:
        return _resolve(self.config.nlu.project_dir)

    def calendar_section(self) -> dict[str, Any]:
        return dict(self.config.calendar)


def _resolve(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else REPO_ROOT / p


def _format_errors(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if p != "__root__")
        lines.append(f"  {loc or '(top level)'}: {err['msg']}")
    return f"{path}: invalid configuration\n" + "\n".join(lines)


def load_config_file(path: Path) -> ConfigModel:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    try:
        model = ConfigModel.parse_obj(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(path, exc)) from None
    # The calendar section is parsed by its owner; a bad one must stop us here too.
    from scheduler.calendar import WorkingCalendar

    try:
        WorkingCalendar.from_mapping(model.calendar)
    except ValueError as exc:
        raise ConfigError(f"{path}: calendar: {exc}") from None
    return model


def load_settings(
    overrides: Optional[Mapping[str, Any]] = None, environ: Optional[Mapping[str, str]] = None
) -> Settings:
    """Layers: defaults, then config file, then environment, then what a test passes in."""
    env = dict(os.environ if environ is None else environ)
    overrides = dict(overrides or {})
    path = Path(overrides.pop("config_path", None) or env.get("DDCI_CONFIG") or DEFAULT_CONFIG_PATH)
    config = load_config_file(path)
    environment = overrides.pop("environment", None) or env.get("DDCI_ENV", "production")
    if environment not in ("development", "production", "test"):
        raise ConfigError(f"DDCI_ENV: must be development, production or test, not {environment!r}")
    instance = Path(overrides.pop("instance_path", None) or env.get("DDCI_INSTANCE", REPO_ROOT / "instance"))
    dev = environment in ("development", "test")

    def secret(name: str, dev_default: str) -> str:
        value = overrides.pop(name.lower(), None) or env.get(name)
        if value:
            return value
        if dev:
            return dev_default
        raise ConfigError(f"{name} is not set (required outside development)")

    app_secret = secret("FB_APP_SECRET", DEV_APP_SECRET)
    verify_token = secret("FB_VERIFY_TOKEN", DEV_VERIFY_TOKEN)
    database_url = overrides.pop("database_url", None) or env.get("DATABASE_URL") or (
        f"sqlite:///{instance / 'ddci.sqlite3'}"
    )
    graph_api_url = overrides.pop("graph_api_url", None) or env.get("GRAPH_API_URL") or (
        f"{config.app.base_url.rstrip('/')}/sandbox/graph" if environment == "development" else DEFAULT_GRAPH_API_URL
    )
    tokens: dict[str, Optional[str]] = {}
    for page in config.pages:
        token = env.get(page.access_token_env)
        if not token and dev:
            token = f"sandbox-token-{page.id}"
        tokens[page.id] = token
    smtp = config.smtp
    settings = Settings(
        config_path=path,
        config=config,
        environment=environment,
        database_url=database_url,
        graph_api_url=graph_api_url.rstrip("/"),
        app_secret=app_secret,
        verify_token=verify_token,
        page_tokens=tokens,
        app_id=overrides.pop("fb_app_id", None) or env.get("FB_APP_ID") or config.app.facebook_app_id,
        smtp_username=env.get(smtp.username_env) if smtp.username_env else None,
        smtp_password=env.get(smtp.password_env) if smtp.password_env else None,
        instance_path=instance,
    )
    if overrides:
        raise ConfigError(f"unknown setting override(s): {', '.join(sorted(overrides))}")
    from store.redaction import register

    register(app_secret, verify_token, settings.smtp_password, *tokens.values())
    return settings


