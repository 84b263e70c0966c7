#!/usr/bin/env bash
# What the test suite needs besides Python packages: the PostgreSQL server (started if it is
# installed but stopped; tests skip with a reason when it cannot be reached).
set -u
if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  version=$(ls /etc/postgresql 2>/dev/null | head -n 1)
  [ -n "$version" ] && pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
fi
exit 0
