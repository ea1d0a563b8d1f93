# The two commands of the README: `make run` and `make test`. Both set up everything they
# need on a fresh machine (Python 3.10 virtual environment, pinned packages).
SHELL := /bin/bash
VENV := .venv
STAMP := $(VENV)/.requirements-installed
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)

# A Python 3.10 that really runs (pyenv shims answer to python3.10 even when not selected).
PYTHON310 ?= $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /root/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do \
	if $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; then echo $$p; break; fi; done)

# `make run PORT=5100` when 5000 is taken: the web process listens there and every link says so
PORT ?= 5000
# The embedded instance (sandbox, development secrets, SQLite in instance/). Not in .flaskenv:
# a `flask` command run by hand on a server without DDCI_ENV must be production, not a
# sandbox that "sends" to its own Graph stand-in (README "Configuration").
DEV := DDCI_ENV=development
BASE_URL := http://127.0.0.1:$(PORT)
# the development mail sink moves with it (8025 beside 5000, 8335 beside 5310), so a second
# instance starts instead of failing on the first one's sink
MAIL_PORT ?= $(shell echo $$(( $(PORT) + 3025 )))
# prometheus-client's multiprocess directory: every process of the group writes its counters
# there and the web process's /metrics sums them (README "Metrics"). Emptied before each start.
METRICS_DIR ?= $(abspath instance/metrics)
# `make production PROD_PORT=8100`: where gunicorn listens. Passed to honcho, which otherwise sets
# PORT=5000 for the first process and Procfile.production's own default (8000) never applies.
PROD_PORT ?= 8000

.PHONY: run production test venv train bench clean metrics-dir

venv: $(STAMP)

$(STAMP): requirements.txt
	@test -n "$(PYTHON310)" || { echo "Python 3.10 is required (Rasa 3.6): install python3.10 and retry." >&2; exit 1; }
	@test -x $(PY) || { echo "Creating $(VENV) with $(PYTHON310)"; $(PYTHON310) -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade "pip<25"
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

train: $(STAMP)
	$(DEV) flask nlu train

run: $(STAMP)
	$(DEV) flask db upgrade
	@# status 3: no new model activated, the active one stays (gate refusal, a training running, a
	@# text labelled two ways: the command said which); the bot starts with it
	$(DEV) flask nlu train || [ $$? -eq 3 ]
	@echo ""
	@echo "  DDCI triage bot (embedded: SQLite in instance/, web + worker + scheduler + mail sink)"
	@echo "  Console:  $(BASE_URL)/          (officers, unit heads, standing office, admins)"
	@echo "  Sandbox:  $(BASE_URL)/sandbox"
	@echo "  Health:   $(BASE_URL)/healthz"
	@echo "  Metrics:  $(BASE_URL)/metrics   (Prometheus; from this machine)"
	@echo "  Webhook:  $(BASE_URL)/webhooks/messenger"
	@echo "  Mail sink: 127.0.0.1:$(MAIL_PORT) (the units' e-mails, shown in the sandbox)"
	@echo ""
	@$(DEV) DDCI_BASE_URL=$(BASE_URL) flask users demo
	@echo ""
	@echo "  Ctrl-C stops everything."
	@echo ""
	@$(MAKE) --no-print-directory metrics-dir
	$(DEV) DDCI_BASE_URL=$(BASE_URL) DDCI_SMTP_PORT=$(MAIL_PORT) PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR) honcho start -f Procfile -p $(PORT)

# The production shape on one machine (Procfile.production: gunicorn, a worker, the scheduler);
# the environment holds DDCI_ENV=production, DATABASE_URL and the secrets (README "Connecting a real page");
# without DATABASE_URL `flask db upgrade` stops here in one line (production has no SQLite default).
# To try it: honcho stops every process when one exits. A deployment runs ops/systemd/.
production: $(STAMP)
	flask db upgrade
	@$(MAKE) --no-print-directory metrics-dir
	PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR) honcho start -f Procfile.production -p $(PROD_PORT)

# prometheus-client: the directory must be emptied before the processes start, never while they run
metrics-dir:
	@mkdir -p $(METRICS_DIR) && rm -f $(METRICS_DIR)/*.db

# the browser tests need Chromium: installed when missing (as root), or a clear message
test: $(STAMP)
	@bash scripts/browser-deps.sh
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) instance models
