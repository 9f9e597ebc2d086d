#!/usr/bin/env bash
# ctest deploy_systemd: deploy/systemd/ctd.service, with ExecStart pointed at the build's
# bin/ctd (verify requires the binary to exist), must pass `systemd-analyze verify` with no
# output at all (unknown keys and bad values are only warnings there), and its offline
# security exposure must stay at or below 2.5 (`systemd-analyze security --offline`), and the
# drain of config/examples/production.yaml (shutdown.drain_timeout_s + training.kill_grace_s +
# 10 s) must fit in its TimeoutStopSec.
# This checks the unit file's syntax, values and hardening score; it does not boot it under
# systemd (no systemd as PID 1 here). Exit 77 (skipped) without systemd-analyze.
#   check_systemd.sh SOURCE_DIR BINARY_DIR
set -euo pipefail
src="$1"
bin="$2"
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found (package systemd)"; exit 77; }
[ -x "$bin/ctd" ] || { echo "$bin/ctd not built"; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
sed "s|/usr/local/bin/ctd|$bin/ctd|g" "$src/deploy/systemd/ctd.service" > "$tmp/ctd.service"
grep -q "^ExecStart=$bin/ctd run -c " "$tmp/ctd.service"
grep -q '^Type=notify$' "$tmp/ctd.service"
grep -q '^WatchdogSec=' "$tmp/ctd.service"
out="$(systemd-analyze verify "$tmp/ctd.service" 2>&1)" || { echo "$out"; exit 1; }
[ -z "$out" ] || { echo "systemd-analyze verify is not clean:"; echo "$out"; exit 1; }
echo "systemd-analyze verify: clean"
systemd-analyze security --offline=yes --threshold=25 "$tmp/ctd.service" | tail -1
rendered="$(env CTD_POSTGRES_DSN=host=db "$bin/ctd" check-config "$src/config/examples/production.yaml")"
drain="$(sed -n 's/^  drain_timeout_s: //p' <<<"$rendered")"
grace="$(sed -n 's/^  kill_grace_s: //p' <<<"$rendered")"
stop="$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$src/deploy/systemd/ctd.service")"
[ -n "$drain" ] && [ -n "$grace" ] && [ -n "$stop" ] || { echo "drain, kill grace or TimeoutStopSec not found"; exit 1; }
[ $((drain + grace + 10)) -le "$stop" ] ||
  { echo "the drain may take $((drain + grace + 10)) s, TimeoutStopSec is ${stop}s"; exit 1; }
echo "drain ${drain} s + kill grace ${grace} s + 10 s fit TimeoutStopSec=${stop}s"
