#!/usr/bin/env bash
# What the test suite needs besides Python packages: the PostgreSQL server and RabbitMQ
# (started if installed but stopped; tests skip with a reason when they cannot be reached).
set -u
if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  version=$(ls /etc/postgresql 2>/dev/null | head -n 1)
  [ -n "$version" ] && pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
fi
# RabbitMQ, the broker of the Celery tests (tests/test_celery.py, skipped with the reason when
# it cannot be reached): started if installed but not listening; waits for it a little.
if command -v rabbitmq-server >/dev/null 2>&1 && ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
  rabbitmq-server -detached >/dev/null 2>&1 || true
  for _ in $(seq 1 30); do
    (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && break
    sleep 1
  done
fi
# Headless Chromium renders the HTML report in tests/test_report.py (skipped, with the reason,
# when absent): installed quietly when missing and we are root; never fails this script.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) >/dev/null 2>&1 || true
fi
# LibreOffice prints the workbook to PDF in tests/test_print.py (skipped, with the reason, when
# absent), with Carlito (Calibri's metrics: the page breaks are computed for them) and
# pdftotext: installed quietly when missing and apt works; never fails this script.
if ! command -v soffice >/dev/null 2>&1 || ! command -v pdftotext >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends libreoffice-calc fonts-crosextra-carlito poppler-utils) \
      >/dev/null 2>&1 || true
  fi
fi
exit 0
