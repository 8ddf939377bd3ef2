#!/usr/bin/env bash
# Run Stripe's official mock API server (stripe-mock) for the tests: every call our code makes
# to Stripe is made against it. It is stateless: it checks each request against Stripe's
# OpenAPI description and answers with Stripe's fixture objects.
#
#   infra/stripe-mock.sh build    build it once from the Go module proxy (cached)
#   infra/stripe-mock.sh start    build, start over HTTP on loopback, wait until it answers
#   infra/stripe-mock.sh stop     stop the server started by this script
#   infra/stripe-mock.sh status   exit 0 if running, 1 if not
#
# Env: STRIPE_MOCK_DIR (default <repo>/.cache/stripe-mock), STRIPE_MOCK_PORT (12111),
#      STRIPE_MOCK_START_TIMEOUT_S (30).
# Needs Go for the first build (/usr/local/go/bin is searched too).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION=v0.203.0
DIR="${STRIPE_MOCK_DIR:-$REPO/.cache/stripe-mock}"
BIN="$DIR/stripe-mock"
STAMP="$DIR/.version"
PID_FILE="$DIR/stripe-mock.pid"
LOG="$DIR/stripe-mock.log"
PORT="${STRIPE_MOCK_PORT:-12111}"
START_TIMEOUT_S="${STRIPE_MOCK_START_TIMEOUT_S:-30}"
HOST=127.0.0.1
NAME=stripe-mock
PATTERN='stripe-mock'
# shellcheck source=infra/pid.sh
source "$REPO/infra/pid.sh"  # running_pid, stop
export PATH="$PATH:/usr/local/go/bin"

die() { echo "stripe-mock: $*" >&2; exit 1; }

build() {
  if [[ -x "$BIN" && -f "$STAMP" && "$(cat "$STAMP")" == "$VERSION" ]]; then
    echo "stripe-mock: $VERSION cached in $BIN"
    return 0
  fi
  command -v go >/dev/null || die "go not found (install Go, or put it in /usr/local/go)"
  echo "stripe-mock: building $VERSION into $DIR ..."
  mkdir -p "$DIR"
  GOBIN="$DIR" go install "github.com/stripe/stripe-mock@$VERSION"
  echo "$VERSION" >"$STAMP"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

# A real API request: stripe-mock answers any authenticated GET of a known resource.
answers() {
  timeout 5 bash -c "exec 3<>/dev/tcp/$HOST/$PORT && printf '%s\r\n' \
    'GET /v1/customers/cus_probe HTTP/1.0' 'Authorization: Bearer sk_test_123' '' >&3 \
    && head -n 1 <&3 | grep -q ' 200 '" 2>/dev/null
}

start() {
  local pid deadline
  build
  if pid="$(running_pid)" && port_open; then
    echo "stripe-mock: already running on $HOST:$PORT (pid $pid)"
    return 0
  fi
  if pid="$(running_pid)"; then
    die "pid $pid is alive but $HOST:$PORT is closed; run 'infra/stripe-mock.sh stop' first"
  fi
  port_open && die "$HOST:$PORT is already in use by another process"
  # setsid: own session, so a Ctrl-C in the calling shell does not reach it.
  setsid nohup "$BIN" -http-addr "$HOST:$PORT" >"$LOG" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PID_FILE"
  deadline=$((SECONDS + START_TIMEOUT_S))
  until answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      tail -n 20 "$LOG" >&2
      die "process $pid exited during startup"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 20 "$LOG" >&2
      die "no answer on $HOST:$PORT within ${START_TIMEOUT_S}s (pid $pid left running)"
    fi
    sleep 0.2
  done
  echo "stripe-mock: listening on http://$HOST:$PORT (pid $pid, log in $LOG)"
}


status() {
  local pid
  if pid="$(running_pid)" && port_open; then
    echo "stripe-mock: running on http://$HOST:$PORT (pid $pid)"
  else
    echo "stripe-mock: not running"
    return 1
  fi
}

case "${1:-}" in
  build) build ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status|build" >&2; exit 2 ;;
esac
