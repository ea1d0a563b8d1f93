"""Deployment settings: config.yml plus secrets from the environment, validated at start.

A bad file stops every process with the file's path, the key and the reason; nothing runs
half-configured. Classes elsewhere receive plain values from here and never read config
themselves.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml
from pydantic import ValidationError

from bot.config.schema import ConfigError, ConfigModel, PageModel, UnitModel

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_CONFIG_PATH = REPO_ROOT / "config.yml"
DEFAULT_GRAPH_API_URL = "https://graph.facebook.com"
DEV_APP_SECRET = "sandbox-app-secret"
DEV_VERIFY_TOKEN = "sandbox-verify-token"
DEV_SECRET_KEY = "development-session-key-never-used-in-production"


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
    # signs the console's session cookies (DDCI_SECRET_KEY); anyone holding it can forge a session
    secret_key: str = DEV_SECRET_KEY
    smtp_username: Optional[str] = None
    smtp_password: Optional[str] = None
    # a bearer token that lets Prometheus read /metrics from outside metrics.allow_networks
    metrics_token: Optional[str] = None
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

    @property
    def inbox_data_dir(self) -> Path:
        """Where the NLU inbox writes inbox.yml (nlu.inbox_data_dir, else the project's data/)."""
        configured = self.config.nlu.inbox_data_dir
        return _resolve(configured) if configured else self.nlu_project_dir / "data"

    @property
    def heldout_dir(self) -> Path:
        """The held-out set the evaluation gate scores on: the project's heldout/."""
        return self.nlu_project_dir / "heldout"

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
    base_url = overrides.pop("base_url", None) or env.get("DDCI_BASE_URL")
    if base_url:  # where this instance is reached (`make run PORT=5100` sets it): links, the sandbox stand-in
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"DDCI_BASE_URL: an http(s) URL is required, not {base_url!r}")
        config = config.copy(update={"app": config.app.copy(update={"base_url": base_url.rstrip("/")})})
    smtp_port = env.get("DDCI_SMTP_PORT")
    if smtp_port:  # `make run PORT=5310` moves the mail sink with the web port (a second instance)
        if not smtp_port.isdigit() or not 0 < int(smtp_port) < 65536:
            raise ConfigError(f"DDCI_SMTP_PORT: a port number (1-65535) is required, not {smtp_port!r}")
        config = config.copy(update={"smtp": config.smtp.copy(update={"port": int(smtp_port)})})
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
        raise ConfigError(f"{name} is not set (required in production; for the embedded instance of "
                          "`make run`: export DDCI_ENV=development)")

    app_secret = secret("FB_APP_SECRET", DEV_APP_SECRET)
    verify_token = secret("FB_VERIFY_TOKEN", DEV_VERIFY_TOKEN)
    secret_key = secret("DDCI_SECRET_KEY", DEV_SECRET_KEY)
    if not dev and len(secret_key) < 32:
        raise ConfigError("DDCI_SECRET_KEY: at least 32 characters are required "
                          "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')")
    database_url = overrides.pop("database_url", None) or env.get("DATABASE_URL")
    if not database_url:
        if not dev:
            # a forgotten DATABASE_URL used to give production a fresh, empty SQLite file in the
            # instance directory and a bot that seemed to work (Procfile.production, ops/systemd/)
            # an instance that ran on that default before has its data there: say so, or the
            # operator follows the message into an empty PostgreSQL database (a review)
            existing = (instance / "ddci.sqlite3").resolve()
            kept = (f"; this instance's existing database is {existing}: DATABASE_URL=sqlite:///{existing} "
                    "keeps it") if existing.is_file() else ""
            raise ConfigError("DATABASE_URL is not set (required in production: a postgresql:// URL, or "
                              "sqlite:////absolute/path.sqlite3 to keep SQLite on purpose; for the embedded "
                              f"instance of `make run`: export DDCI_ENV=development){kept}")
        database_url = f"sqlite:///{instance / 'ddci.sqlite3'}"  # the embedded instance's (make run, tests)
    if database_url.startswith(("postgres://", "postgresql://")):
        # the form most hosts and tools print; SQLAlchemy names its driver (an operator's
        # postgres:// ended in NoSuchModuleError's traceback)
        database_url = "postgresql+psycopg2://" + database_url.split("://", 1)[1]
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
        secret_key=secret_key,
        page_tokens=tokens,
        app_id=overrides.pop("fb_app_id", None) or env.get("FB_APP_ID") or config.app.facebook_app_id,
        smtp_username=env.get(smtp.username_env) if smtp.username_env else None,
        smtp_password=env.get(smtp.password_env) if smtp.password_env else None,
        instance_path=instance,
        metrics_token=overrides.pop("metrics_token", None) or env.get("METRICS_TOKEN") or None,
    )
    if overrides:
        raise ConfigError(f"unknown setting override(s): {', '.join(sorted(overrides))}")
    from store.redaction import register

    register(app_secret, verify_token, secret_key, settings.smtp_password, settings.metrics_token, *tokens.values())
    return settings


