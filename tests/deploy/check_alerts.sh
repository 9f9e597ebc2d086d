#!/usr/bin/env bash
# ctest deploy_alerts: deploy/prometheus/alerts.yml must pass `promtool check rules` and its unit
# tests (alerts_test.yml: firing and not-firing cases of every alert).
# Exit 77 (ctest: skipped) when promtool is missing; scripts/setup installs it (prometheus).
set -euo pipefail
dir="$1/deploy/prometheus"
command -v promtool >/dev/null || { echo "promtool not found (Debian package prometheus)"; exit 77; }
promtool check rules "$dir/alerts.yml"
cd "$dir"
promtool test rules alerts_test.yml
