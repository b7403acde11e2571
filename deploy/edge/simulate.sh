#!/bin/sh
# The edge simulator: spex-edge as on a device, and an application replaying
# the Fashion-MNIST test set through its local API, over and over, at
# SPEX_REPLAY_RATE samples/s (default 200), so that dashboards have live
# traffic. Extra arguments go to spex-edge. SIGTERM (docker stop) is passed
# to spex-edge, which drains; the script ends (and so the container) when
# spex-edge has exited, with its status.
set -eu
rate="${SPEX_REPLAY_RATE:-200}"
spex-edge --flagfile=/etc/spex/edge.flags "$@" &
edge=$!
trap 'kill -TERM "$edge" 2>/dev/null' TERM INT
until spex-health --target=unix:/run/spex/edge.sock --timeout_ms=500 >/dev/null; do
  kill -0 "$edge" 2>/dev/null || { wait "$edge"; exit $?; }
  sleep 0.2
done
(
  while kill -0 "$edge" 2>/dev/null; do
    spex-replay --target=unix:/run/spex/edge.sock --rate="$rate" --streams=2 \
      --depth=4 || sleep 1
  done
) &
status=0
wait "$edge" || status=$?
# A signal interrupts wait; the agent is still answering what it accepted.
if kill -0 "$edge" 2>/dev/null; then
  status=0
  wait "$edge" || status=$?
fi
exit "$status"
