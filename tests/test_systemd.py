"""ops/systemd/: the supervised units of a real deployment (README "Running it for real").

honcho (`make production`) stops every process when one exits; the units restart each process
alone. They must run what Procfile.production runs, and the metrics directory must be emptied
once before the group starts, never when one process restarts: an operator's per-unit
`ExecStartPre=rm -f $PROMETHEUS_MULTIPROC_DIR/*.db` (the README's old advice) wiped the web's
live series whenever the worker restarted.
"""
from __future__ import annotations

import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
UNITS = REPO / "ops" / "systemd"
METRICS_DIR_UNIT = "ddci-metrics-dir.service"


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values, in order]}}: systemd allows a key more than once."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in (UNITS / name).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        assert not line.endswith("\\"), f"{name}: continued lines are not read by this test"
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{name}: {line!r} outside a section"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def procfile() -> dict[str, str]:
    processes = {}
    for line in (REPO / "Procfile.production").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            processes[name.strip()] = command.strip()
    return processes


def words(values: list[str]) -> list[str]:
    return [w for value in values for w in value.split()]


def test_each_process_of_procfile_production_has_a_supervised_unit_running_the_same_command():
    for name, command in procfile().items():
        service = unit(f"ddci-{name}.service")["Service"]
        (workdir,) = service["WorkingDirectory"]
        (exec_start,) = service["ExecStart"]
        program, *args = shlex.split(exec_start)
        venv_bin = f"{workdir}/.venv/bin/"
        assert program.startswith(venv_bin), (name, program)  # the venv's own, not whatever is on PATH
        # systemd has no ${PORT:-8000}: the unit says the port (8000, as README "Metrics" scrapes)
        assert [program[len(venv_bin):], *args] == shlex.split(command.replace("${PORT:-8000}", "8000")), name
        assert service["Restart"] == ["always"] and float(service["RestartSec"][0]) > 0, name
        assert service["EnvironmentFile"] == ["/etc/ddci/env"] and service["User"] == ["ddci"], name
        if program.endswith("/flask"):
            assert "FLASK_APP=bot:cli_app" in words(service.get("Environment", [])), name


def test_only_one_unit_empties_the_metrics_directory_and_the_processes_start_after_it():
    files = sorted(p.name for p in UNITS.iterdir() if p.suffix in (".service", ".target"))
    emptying = [name for name in files
                if any("rm " in value for key, values in unit(name).get("Service", {}).items()
                       if key.startswith("Exec") for value in values)]
    assert emptying == [METRICS_DIR_UNIT]
    oneshot = unit(METRICS_DIR_UNIT)
    assert oneshot["Service"]["Type"] == ["oneshot"]
    # stays active once done: a process restarting alone (Restart=always) does not run it again
    assert oneshot["Service"]["RemainAfterExit"] == ["yes"]
    assert oneshot["Service"]["EnvironmentFile"] == ["/etc/ddci/env"]
    (script,) = oneshot["Service"]["ExecStart"]
    assert "$$PROMETHEUS_MULTIPROC_DIR" in script  # the shell's variable, not a systemd expansion
    processes = [f"ddci-{name}.service" for name in procfile()]
    for name in processes:
        sections = unit(name)
        assert METRICS_DIR_UNIT in words(sections["Unit"]["Requires"]), name
        assert METRICS_DIR_UNIT in words(sections["Unit"]["After"]), name
        assert sections["Unit"]["PartOf"] == ["ddci.target"], name
    assert oneshot["Unit"]["PartOf"] == ["ddci.target"]  # a restart of the group empties it again
    assert set(words(unit("ddci.target")["Unit"]["Wants"])) == {METRICS_DIR_UNIT, *processes}
    assert set(files) == {METRICS_DIR_UNIT, "ddci.target", *processes}  # a new process needs its unit


def test_the_environment_example_is_production_and_the_readme_no_longer_empties_per_unit():
    env = dict(line.split("=", 1) for line in (UNITS / "env.example").read_text(encoding="utf-8").splitlines()
               if line and not line.startswith("#"))
    assert env["DDCI_ENV"] == "production" and env["PROMETHEUS_MULTIPROC_DIR"]
    assert env["DDCI_BASE_URL"].startswith("https://")  # links in e-mails pointed at 127.0.0.1:5000
    assert env["DATABASE_URL"].startswith("postgresql")  # production refuses to start without one
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "ExecStartPre=rm" not in readme and "ops/systemd/" in readme
