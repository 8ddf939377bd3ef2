# Sourced by the scripts that run a server of their own (kafka.sh, stripe-mock.sh): finding it
# by its pid file, and stopping it. The script sets NAME (for messages), PID_FILE and PATTERN
# (a grep pattern its command line holds, so a pid reused by another process is not ours).

# Our server's pid, if the pid file names a live process whose command line holds PATTERN.
running_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$PATTERN" || return 1
  echo "$pid"
}

# Stop our server: SIGTERM, then SIGKILL if it is still alive after 30 s.
stop() {
  local pid i
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    echo "$NAME: not running"
    return 0
  fi
  kill -TERM "$pid"
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$NAME: pid $pid still alive after 30s, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$PID_FILE"
  echo "$NAME: stopped (pid $pid)"
}
