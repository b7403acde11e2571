# Sourced by the scripts that run spex's daemons (demo.sh, bench_cloud.sh,
# bench_edge.sh): a scratch folder, the daemons started in the background
# stopped (SIGTERM, so they drain) when the script ends however it ends, and
# waits for what a daemon writes once it serves.
#
#   spex_start NAME LOG command...   runs command in the background
#   spex_wait_for_ports FILE         waits for a --port_file's two lines
#   spex_wait_for_socket PATH        waits for a Unix socket
#   $spex_work                        the scratch folder (removed at exit)

spex_work=$(mktemp -d)
spex_pids=()
spex_stop_all() {
  local pid
  for pid in "${spex_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${spex_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$spex_work"
}
trap spex_stop_all EXIT

spex_start() {  # name log command...
  local name=$1 log=$2
  shift 2
  "$@" 2>"$log" &
  spex_pids+=($!)
  eval "${name}_pid=$!"
}

spex_wait_for_ports() {  # port file
  local _
  for _ in $(seq 1 600); do
    [[ -s $1 && $(wc -l < "$1") -ge 2 ]] && return
    sleep 0.05
  done
  echo "$(basename "$0"): a daemon did not start (no $1)" >&2
  exit 1
}

spex_wait_for_socket() {  # path
  local _
  for _ in $(seq 1 600); do
    [[ -S $1 ]] && return
    sleep 0.05
  done
  echo "$(basename "$0"): a daemon did not start (no socket $1)" >&2
  exit 1
}
