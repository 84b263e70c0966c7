#!/usr/bin/env bash
# What the test suite needs besides Python packages: the PostgreSQL server (started if it is
# installed but stopped; tests skip with a reason when it cannot be reached).
set -u
if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  version=$(ls /etc/postgresql 2>/dev/null | head -n 1)
  [ -n "$version" ] && pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
fi
# Headless Chromium renders the HTML report in tests/test_report.py (skipped, with the reason,
# when absent): installed quietly when missing and we are root; never fails this script.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) >/dev/null 2>&1 || true
fi
exit 0
