"""Bad configuration stops the app with the file, the key and the reason."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot import ConfigError, create_app
from bot.config import load_settings
from tests.conftest import REPO, free_port, write_config


def settings_for(path: Path, **extra):
    return load_settings({"config_path": path, "environment": "test", **extra}, environ={})


def test_shipped_config_is_valid():
    s = settings_for(REPO / "config.yml")
    assert s.config.standing_office == "BXT"
    assert s.unit("SO_XD").name == "Sở Xây dựng"


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c["pages"][0].update(unit="NOPE"), "pages[0].unit: unknown unit 'NOPE'"),
    (lambda c: c["routing"]["domains"].pop("thue"), "routing.domains: no unit for thue"),
    (lambda c: c["routing"]["domains"].update(thue="NOPE"), "routing.domains.thue: unknown unit 'NOPE'"),
    (lambda c: c.update(standing_office="NOPE"), "standing_office: unknown unit 'NOPE'"),
    (lambda c: c["units"].append(dict(c["units"][0])), "units: duplicate code(s) BXT"),
    (lambda c: c["units"][0].update(emails=["not-an-email"]), "not an email address"),
    (lambda c: c["pages"][0].update(id="abc"), "pages.0.id"),
    (lambda c: c.update(surprise=1), "surprise"),
    (lambda c: c["calendar"].update(office_hours={"open": "07:30", "close": "25:00"}), "calendar:"),
    (lambda c: c["calendar"]["office_hours"][1].update(open="11:00"), "calendar.office_hours[1]: opens at 11:00"),
    (lambda c: c["calendar"].update(declared_years=[2025, 2026, 2026]), "calendar.declared_years[2]: 2026 is listed twice"),
    (lambda c: c["calendar"].update(declared_years=[2025, "2026"]), "calendar.declared_years[1]"),
    (lambda c: c["calendar"]["days_off"].append({"date": "2026-13-01", "name": "x"}), "calendar:"),
    (lambda c: c.pop("smtp"), "smtp"),
])
def test_bad_config_names_the_file_key_and_reason(tmp_path, mutate, message):
    config = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))
    mutate(config)
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        settings_for(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_missing_and_unparsable_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        settings_for(tmp_path / "absent.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("pages: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        settings_for(broken)


def test_production_requires_secrets(tmp_path):
    with pytest.raises(ConfigError, match="FB_APP_SECRET is not set"):
        load_settings({"config_path": REPO / "config.yml", "environment": "production"}, environ={})


def test_production_requires_a_long_session_key(tmp_path):
    environ = {"FB_APP_SECRET": "s", "FB_VERIFY_TOKEN": "v", "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}"}
    base = {"config_path": REPO / "config.yml", "environment": "production"}
    with pytest.raises(ConfigError, match="DDCI_SECRET_KEY is not set"):
        load_settings(base, environ=environ)
    with pytest.raises(ConfigError, match="DDCI_SECRET_KEY: at least 32 characters"):
        load_settings(base, environ={**environ, "DDCI_SECRET_KEY": "short"})
    key = "production-like-session-key-for-a-test-4f2a9c"  # (registered for redaction: no common text)
    assert load_settings(base, environ={**environ, "DDCI_SECRET_KEY": key}).secret_key == key


NO_DATABASE_URL = ("DATABASE_URL is not set (required in production: a postgresql:// URL, or "
                   "sqlite:////absolute/path.sqlite3 to keep SQLite on purpose; for the embedded instance of "
                   "`make run`: export DDCI_ENV=development)")
PRODUCTION_SECRETS = {"FB_APP_SECRET": "s", "FB_VERIFY_TOKEN": "v",
                      "DDCI_SECRET_KEY": "production-db-url-test-session-key-51c7e2"}


def test_production_without_database_url_refuses_to_start(tmp_path):
    """An operator who forgot DATABASE_URL got a fresh, empty SQLite file in instance/ and a bot
    that seemed to work. Production now stops saying what to set; an explicit SQLite URL is
    still accepted (SQLite on purpose), and development and test keep the embedded default."""
    base = {"config_path": REPO / "config.yml", "instance_path": tmp_path}
    for environ in ({"DDCI_ENV": "production", **PRODUCTION_SECRETS}, PRODUCTION_SECRETS):  # unset is production
        with pytest.raises(ConfigError) as err:
            load_settings(base, environ=environ)
        assert str(err.value) == NO_DATABASE_URL
    with pytest.raises(ConfigError, match="DATABASE_URL is not set"):  # an empty value is not a URL either
        load_settings(base, environ={**PRODUCTION_SECRETS, "DATABASE_URL": ""})

    explicit = f"sqlite:///{tmp_path / 'on-purpose.sqlite3'}"
    assert load_settings(base, environ={**PRODUCTION_SECRETS, "DATABASE_URL": explicit}).database_url == explicit
    assert load_settings({**base, "database_url": explicit}, environ=PRODUCTION_SECRETS).database_url == explicit
    assert load_settings(base, environ={**PRODUCTION_SECRETS, "DATABASE_URL": "postgresql://u:p@db/ddci"}
                         ).database_url == "postgresql+psycopg2://u:p@db/ddci"

    for environment in ("development", "test"):
        s = load_settings(base, environ={"DDCI_ENV": environment})
        assert s.database_url == f"sqlite:///{tmp_path / 'ddci.sqlite3'}", environment
    assert not list(tmp_path.iterdir())  # settings alone create no file

    # an instance that ran on the old default: the message names its database, so the operator
    # keeps it instead of following the message into an empty PostgreSQL database
    (tmp_path / "ddci.sqlite3").write_bytes(b"")
    with pytest.raises(ConfigError) as err:
        load_settings(base, environ=PRODUCTION_SECRETS)
    existing = (tmp_path / "ddci.sqlite3").resolve()
    assert str(err.value) == (f"{NO_DATABASE_URL}; this instance's existing database is {existing}: "
                              f"DATABASE_URL=sqlite:///{existing} keeps it")


@pytest.mark.parametrize("command", ["flask", "gunicorn"])
def test_production_commands_without_database_url_say_so_in_one_line(tmp_path, command):
    """Through the real entry points: `flask db upgrade` (bot.cli_app) and gunicorn's master
    (ops/gunicorn.conf.py on_starting) end with that one line and status 2, and create no
    SQLite file in the instance directory (the old default wrote a fresh one there)."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DDCI_ENV", "DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(PRODUCTION_SECRETS, DDCI_ENV="production", DDCI_INSTANCE=str(tmp_path))
    argv = {"flask": ["flask", "db", "upgrade"],
            "gunicorn": ["gunicorn", "-c", "ops/gunicorn.conf.py", "--workers", "2",
                         "--bind", f"127.0.0.1:{free_port()}", "bot:create_app()"]}[command]
    result = subprocess.run([sys.executable, "-m", *argv], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    if command == "gunicorn":  # its own "Starting gunicorn" log line comes first
        lines = [line for line in lines if "[INFO] Starting gunicorn" not in line]
    assert lines == [f"Error: {NO_DATABASE_URL}"], result.stderr
    assert not list(tmp_path.iterdir())  # no ddci.sqlite3 was created


def test_environment_overrides_file_and_defaults(tmp_path):
    s = load_settings({"config_path": write_config(tmp_path)}, environ={
        "DDCI_ENV": "production", "FB_APP_SECRET": "s", "FB_VERIFY_TOKEN": "v", "TEST_TOKEN_DDCI": "t1",
        "DDCI_SECRET_KEY": "config-test-session-key-0123456789",
        "DATABASE_URL": "sqlite:////tmp/x.db", "GRAPH_API_URL": "http://127.0.0.1:9/"})
    assert (s.app_secret, s.verify_token, s.database_url, s.graph_api_url) == (
        "s", "v", "sqlite:////tmp/x.db", "http://127.0.0.1:9")
    assert s.page_tokens["371024009436368"] == "t1" and s.page_tokens["1895382890692545"] is None


def test_development_defaults_point_at_the_sandbox():
    s = load_settings({"config_path": REPO / "config.yml"}, environ={"DDCI_ENV": "development"})
    assert s.graph_api_url == "http://127.0.0.1:5000/sandbox/graph"
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("instance/ddci.sqlite3")


def test_factory_refuses_a_bad_config(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("units: []\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        create_app({"config_path": path, "environment": "test"})


def test_the_web_process_does_not_import_rasa_or_tensorflow(tmp_path):
    code = (
        "import sys; from bot import create_app; "
        f"app = create_app({{'config_path': {str(REPO / 'config.yml')!r}, 'environment': 'development', "
        f"'database_url': 'sqlite:///{tmp_path}/w.db'}}); "
        "c = app.test_client(); c.get('/healthz'); assert c.get('/login').status_code == 200; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('rasa', 'tensorflow', 'keras')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_flask_command_with_a_bad_config_prints_the_reason_not_a_traceback(tmp_path):
    import os

    bad = tmp_path / "bad.yml"
    bad.write_text("units: []\n", encoding="utf-8")
    env = {**os.environ, "DDCI_CONFIG": str(bad), "DDCI_ENV": "development"}
    result = subprocess.run([sys.executable, "-m", "flask", "deadline", "due", "--start", "2026-01-01", "--days", "1"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert f"Error: {bad}: invalid configuration" in result.stderr
    assert "standing_office: field required" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_base_url_follows_make_runs_port():
    """`make run PORT=5100` sets DDCI_BASE_URL: the console's links and the sandbox's Graph
    stand-in follow it; anything but an http(s) URL is refused with the variable's name."""
    s = load_settings({"config_path": REPO / "config.yml"},
                      environ={"DDCI_ENV": "development", "DDCI_BASE_URL": "http://127.0.0.1:5100/"})
    assert s.config.app.base_url == "http://127.0.0.1:5100"
    assert s.graph_api_url == "http://127.0.0.1:5100/sandbox/graph"
    with pytest.raises(ConfigError, match="DDCI_BASE_URL"):
        load_settings({"config_path": REPO / "config.yml"}, environ={"DDCI_BASE_URL": "127.0.0.1:5100"})


def test_the_mail_sink_follows_make_runs_port_too():
    """A second `make run PORT=5310` failed: its mail sink took 8025, the first one's (a review).
    The Makefile moves it with the web port (PORT + 3025) through DDCI_SMTP_PORT."""
    import subprocess

    plan = subprocess.run(["make", "-n", "run", "PORT=5310"], cwd=REPO, capture_output=True, text=True)
    assert "DDCI_SMTP_PORT=8335" in plan.stdout and "DDCI_BASE_URL=http://127.0.0.1:5310" in plan.stdout
    assert "DDCI_SMTP_PORT=8025" in subprocess.run(["make", "-n", "run"], cwd=REPO, capture_output=True,
                                                   text=True).stdout  # the default stays config.yml's
    s = load_settings({"config_path": REPO / "config.yml"}, environ={"DDCI_ENV": "development",
                                                                      "DDCI_SMTP_PORT": "8335"})
    assert s.config.smtp.port == 8335
    assert load_settings({"config_path": REPO / "config.yml"}, environ={"DDCI_ENV": "development"}).config.smtp.port \
        == 8025
    with pytest.raises(ConfigError, match="DDCI_SMTP_PORT"):
        load_settings({"config_path": REPO / "config.yml"}, environ={"DDCI_SMTP_PORT": "mail"})


def test_a_flask_command_without_ddci_env_is_production_and_make_run_is_development(tmp_path):
    """An operator's `flask worker` on a server without DDCI_ENV used to run as the sandbox
    (.flaskenv set development): its messages went to the sandbox's Graph stand-in and
    `flask users demo` wrote demo passwords into the real database. Now .flaskenv leaves the
    variable alone: unset is production, which says which secret is missing and how to reach
    the embedded instance; `make run` sets development for every command it runs."""
    import os
    import subprocess

    assert "DDCI_ENV" not in {line.split("=", 1)[0].strip() for line in (REPO / ".flaskenv").read_text().splitlines()
                              if "=" in line and not line.lstrip().startswith("#")}
    env = {k: v for k, v in os.environ.items() if k not in ("DDCI_ENV", "FB_APP_SECRET", "FB_VERIFY_TOKEN")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    result = subprocess.run([sys.executable, "-m", "flask", "users", "demo"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "FB_APP_SECRET is not set (required in production" in result.stderr
    assert "export DDCI_ENV=development" in result.stderr
    assert not (tmp_path / "server.sqlite3").exists()  # nothing was written
    plan = subprocess.run(["make", "-n", "run"], cwd=REPO, capture_output=True, text=True).stdout
    commands = [line for line in plan.splitlines() if "flask " in line or "honcho " in line]
    assert len(commands) == 4 and all("DDCI_ENV=development" in line for line in commands), commands


def test_gunicorn_without_a_secret_says_which_in_one_line(tmp_path):
    """`make production` (gunicorn) on a server without FB_APP_SECRET printed a traceback per
    worker and ended with "Worker failed to boot" (an operator's first deployment). The master
    checks the settings before it forks (ops/gunicorn.conf.py) and ends as `flask` does: one
    line, status 2, nothing written."""
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("DDCI_ENV", "FB_APP_SECRET", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(DDCI_ENV="production", FB_VERIFY_TOKEN="v", DDCI_SECRET_KEY="k" * 32,
               DATABASE_URL=f"sqlite:///{tmp_path / 'server.sqlite3'}")
    result = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "ops/gunicorn.conf.py", "--workers", "2",
                             "--bind", f"127.0.0.1:{free_port()}", "bot:create_app()"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "Worker failed to boot" not in result.stderr
    assert "Error: FB_APP_SECRET is not set (required in production" in result.stderr
    assert not (tmp_path / "server.sqlite3").exists()


def test_make_production_listens_on_8000_or_the_port_asked_for():
    """Under `make production` gunicorn listened on 5000 (honcho sets PORT=5000 for the first
    process, so Procfile.production's ${PORT:-8000} never applied) while README "Metrics" scrapes
    :8000 (an operator's first deployment). The Makefile passes PROD_PORT to honcho, which gives
    it to the first process: web."""
    import subprocess

    def honcho(*args: str) -> str:
        plan = subprocess.run(["make", "-n", "production", *args], cwd=REPO, capture_output=True, text=True).stdout
        (line,) = [line for line in plan.splitlines() if "honcho " in line]
        return line

    assert honcho().endswith("honcho start -f Procfile.production -p 8000")
    assert honcho("PROD_PORT=8100").endswith("honcho start -f Procfile.production -p 8100")
    first = next(line for line in (REPO / "Procfile.production").read_text().splitlines()
                 if line.strip() and not line.startswith("#"))
    assert first.startswith("web:") and "--bind 0.0.0.0:${PORT:-8000}" in first


def test_the_readme_names_every_section_of_config_yml_and_every_variable_settings_read():
    """README "Configuration" listed `admins` twice and left out `app`, `reports`, `console` and
    `webhook`; its table lacked DDCI_INSTANCE, DDCI_SMTP_PORT and FB_APP_ID (an operator's first
    deployment). The paragraph introduces each section as `name` (...), in config.yml's order."""
    import re

    import yaml

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Configuration\n"):readme.index("### Connecting a real page")]
    paragraph = section[:section.index("\n\n", len("## Configuration\n\n"))]
    sections = list(yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8")))
    assert re.findall(r"`([a-z_]+)`\s\(", paragraph) == sections
    source = (REPO / "bot" / "config" / "settings.py").read_text(encoding="utf-8")
    variables = set(re.findall(r'(?:env\.get|secret)\("([A-Z_]+)"', source))
    assert {"DDCI_INSTANCE", "DDCI_SMTP_PORT", "FB_APP_ID"} <= variables
    rows = set(re.findall(r"^\| `([A-Z_]+)`", section, flags=re.M))
    assert variables - rows == set()


def test_the_readmes_backup_list_names_the_paths_the_deployment_uses():
    """README "Backup and upgrade" (an operator's first deployment found none): each path it
    names is where settings and config.yml put it."""
    from bot.config.settings import Settings

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Backup and upgrade"):readme.index("## Metrics")]
    s = load_settings({"config_path": REPO / "config.yml"}, environ={"DDCI_ENV": "development"})
    assert s.model_dir == REPO / "models" and "`models/` (`nlu.model_dir`)" in section and "`active.json`" in section
    assert s.inbox_data_dir == REPO / "nlu" / "data" and "`nlu.inbox_data_dir` (null, as shipped:\n  `nlu/data/`" in section
    assert s.database_url == f"sqlite:///{REPO / 'instance' / 'ddci.sqlite3'}" and "`instance/ddci.sqlite3`" in section
    assert Settings.__dataclass_fields__["instance_path"].default == REPO / "instance"
    assert 'archive=settings.instance_path / "reports"' in (REPO / "bot" / "runtime.py").read_text(encoding="utf-8")
    assert "`instance/reports/`" in section
    assert "ddci db upgrade" in section and "There is no downgrade" in section


def test_a_postgres_url_as_hosts_print_it_works_and_a_dead_database_is_one_line(tmp_path):
    """An operator: DATABASE_URL=postgres://… ended in NoSuchModuleError's traceback, and
    `flask db upgrade` with the database down printed an OperationalError's."""
    import os
    import subprocess

    s = load_settings({"config_path": REPO / "config.yml"},
                      environ={"DDCI_ENV": "development", "DATABASE_URL": "postgres://u:p@db.example/ddci"})
    assert s.database_url == "postgresql+psycopg2://u:p@db.example/ddci"
    env = {**os.environ, "DDCI_ENV": "development", "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
           "DDCI_INSTANCE": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "Error: the database at postgresql+psycopg2://nobody@127.0.0.1:1/none did not answer" in result.stderr


def test_every_command_says_in_one_line_what_is_wrong_with_the_database(tmp_path):
    """A sysadmin's walkthrough: a refused connection printed 122 lines of traceback from any
    command but `flask db upgrade`; DATABASE_URL=garbage or a MySQL URL (no driver) too; and
    after an update without `flask db upgrade` the worker started as usual, then failed on
    every message with "column inquiries.search_text does not exist". Now one line, what to do,
    and the worker, its sender, the scheduler and gunicorn refuse to start on a stale schema."""
    import os

    from sqlalchemy import create_engine

    from store.migrate import upgrade

    def run(*argv, url: str):
        env = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR",)}
        env.update(DDCI_ENV="development", DATABASE_URL=url, DDCI_INSTANCE=str(tmp_path), FB_APP_SECRET="s",
                   FB_VERIFY_TOKEN="v", DDCI_SECRET_KEY="k" * 32)
        return subprocess.run([sys.executable, "-m", *argv], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=120)

    for url, said, status in (
            ("garbage", "is not a database this deployment can use: it is not a URL", 2),
            ("mysql://u:secret@127.0.0.1/x", "is not a database this deployment can use: No module named 'MySQLdb'", 2),
            ("postgresql://nobody:secret@127.0.0.1:1/none", "did not answer: connection to server at", 1)):
        result = run("flask", "inquiries", "export", url=url)
        assert (result.returncode, "Traceback" in result.stderr) == (status, False), result.stderr
        assert said in result.stderr and "secret" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1

    old = tmp_path / "old.sqlite3"
    engine = create_engine(f"sqlite:///{old}")
    upgrade(engine, "0012")  # the release before: no search columns yet
    engine.dispose()
    stale = "the database's schema is at 0012, this code expects 0013: run `flask db upgrade`"
    for argv in (("flask", "worker", "--once"), ("flask", "scheduler"), ("flask", "sender"),
                 ("flask", "inquiries", "export")):
        result = run(*argv, url=f"sqlite:///{old}")
        assert result.returncode == 1 and "Traceback" not in result.stderr, (argv, result.stderr)
        assert stale in result.stderr, (argv, result.stderr)
    web = run("gunicorn", "-c", "ops/gunicorn.conf.py", "--workers", "2", "--bind", f"127.0.0.1:{free_port()}",
              "bot:create_app()", url=f"sqlite:///{old}")
    assert web.returncode == 2 and "Traceback" not in web.stderr and stale in web.stderr, web.stderr
    result = run("flask", "db", "upgrade", url=f"sqlite:///{old}")
    assert result.returncode == 0, result.stderr
    assert run("flask", "inquiries", "export", url=f"sqlite:///{old}").returncode == 0


def test_the_database_guard_reads_each_app_s_database_and_keeps_a_bug_s_traceback(make_app, tmp_path, monkeypatch):
    """A review: the guard was bound to the first app ever built (its URL and schema in every
    later message), and it called a query SQLite could not read (a bug) "did not answer"."""
    import sqlite3

    from sqlalchemy import text as sql
    from sqlalchemy.exc import OperationalError

    from bot import context

    make_app()  # the commands are module singletons: a first app wraps them
    stale = make_app({"database_url": f"sqlite:///{tmp_path / 'stale.sqlite3'}"})
    with stale.app_context(), context.db().session() as s:
        s.execute(sql("UPDATE alembic_version SET version_num = '0012'"))
    result = stale.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 1 and "schema is at 0012, this code expects 0013" in result.output, result.output

    app = make_app()
    bug = OperationalError("SELEC 1", {}, sqlite3.OperationalError('near "SELEC": syntax error'))

    def broken(self):
        raise bug

    monkeypatch.setattr("store.db.Database.session", broken)
    result = app.test_cli_runner().invoke(args=["users", "list"])
    assert result.exception is bug and "did not answer" not in result.output  # a traceback to report
