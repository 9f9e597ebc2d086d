#!/usr/bin/env bash
# ctest deploy_alerts: deploy/prometheus/alerts.yml must pass `promtool check rules` and its unit
# tests (alerts_test.yml: firing and not-firing cases of every alert); the example
# alertmanager.yml must pass `amtool check-config` and route each severity to its receiver.
# Exit 77 (ctest: skipped) when promtool or amtool is missing; scripts/setup installs both
# (prometheus, prometheus-alertmanager).
set -euo pipefail
dir="$1/deploy/prometheus"
command -v promtool >/dev/null || { echo "promtool not found (Debian package prometheus)"; exit 77; }
command -v amtool >/dev/null || { echo "amtool not found (Debian package prometheus-alertmanager)"; exit 77; }
promtool check rules "$dir/alerts.yml"
(cd "$dir" && promtool test rules alerts_test.yml)
amtool check-config "$dir/alertmanager.yml"
route() {  # route RECEIVER LABEL=VALUE...
  local receiver="$1"
  shift
  amtool config routes test --config.file="$dir/alertmanager.yml" --verify.receivers="$receiver" "$@" 2>/dev/null
}
route ctd-oncall severity=critical alertname=CtdPostgresUnreachable
route ctd-team severity=warning alertname=CtdConsumerLagHigh
route ctd-info severity=info alertname=CtdTriggerFired
