"""``make run``: the whole system on one machine, on the embedded SQLite event store.

Starts each deployable as its own process, says where things are, and stops them all on
Ctrl-C or SIGTERM (each finishes its batch first). If one dies, the others are stopped too.
With ``KALEMA_ENVIRONMENT=production`` it refuses the lab settings before starting any (each
service checks again), and seeds no demo account.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from services.api.settings import ApiSettings
from services.going_live import refuse_lab_settings
from services.settings import REPO, Settings

PROCESSES = {
    "ledger": [sys.executable, "-m", "services.ledger"],
    "projector": [sys.executable, "-m", "projections"],
    "api": [sys.executable, "-m", "services.api"],
    "clock": [sys.executable, "-m", "services.clock"],
    "topup": [sys.executable, "-m", "services.topup"],
}
# Run once, not supervised: this month's Solo cycle for the demo account, as billing would send
# it (development only; a repeat is answered with the first outcome).
ONCE = {"demo": [sys.executable, "-m", "services.api.demo"]}


def main() -> int:
    settings = Settings()
    api = ApiSettings()
    refuse_lab_settings(api)  # the API's settings hold every other service's
    print(f"kafka:    {settings.kafka_bootstrap_servers}")
    print(f"commands: {settings.topic['commands']} (key = account_id)")
    print(f"outcomes: {settings.topic['outcomes']}")
    print(f"balances: {settings.topic['balances']} (compacted, key = account_id)")
    print(f"alerts:   {settings.topic['alerts']}")
    print(f"events:   {settings.event_store} ({settings.sqlite_path})")
    print(f"api:      {api.url()}/docs (OpenAPI: {api.url()}/openapi.json)")
    print(f"page:     {api.page_url()}  (account {api.api_demo_account})")
    host = settings.metrics_host
    ports = (settings.ledger_metrics_port, settings.projector_metrics_port)
    print(
        f"metrics:  http://{host}:{{{ports[0]},{ports[1]},{settings.clock_metrics_port}}}/metrics"
    )
    print(
        f"health:   .../health/ready (ledger, projector, clock; the API on {api.url()})", flush=True
    )
    children = {name: subprocess.Popen(argv, cwd=REPO) for name, argv in PROCESSES.items()}
    development = settings.environment == "development"
    once = [subprocess.Popen(argv, cwd=REPO) for argv in ONCE.values() if development]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping and all(child.poll() is None for child in children.values()):
        time.sleep(0.2)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in once:
        if child.poll() is None:
            child.terminate()
        child.wait(timeout=60)
    codes = {name: child.wait(timeout=60) for name, child in children.items()}
    failed = {name: code for name, code in codes.items() if code not in (0, -signal.SIGTERM)}
    if failed and not stopping:
        print(f"stopped because {', '.join(failed)} exited: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
