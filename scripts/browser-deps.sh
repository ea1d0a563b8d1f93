#!/usr/bin/env bash
# What the browser tests (pytest -m browser: the sandbox and the console in headless Chromium)
# need from the system: Debian's `chromium` and `chromium-driver`. `make test` and .ci/run call
# this. Installed here when missing and we run as root with apt-get; otherwise we stop and say
# what to install (a test run that silently skips the browser would prove nothing about pages).
set -euo pipefail

have() { command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; }

if have; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing Chromium for the browser tests (Debian packages chromium, chromium-driver)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
  if have; then
    exit 0
  fi
  echo "apt-get installed chromium and chromium-driver, but 'chromium' or 'chromedriver' is still not on PATH." >&2
  exit 1
fi
cat >&2 <<'MSG'
The browser tests need Chromium and its driver, and they are not installed:
  chromium      (the browser, run headless)
  chromedriver  (Debian package chromium-driver; selenium drives Chromium through it)
On Debian or Ubuntu:  sudo apt-get install chromium chromium-driver
(Run as root, `make test` installs them itself.) Then run `make test` again.
MSG
exit 1
