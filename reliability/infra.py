"""Private infrastructure for the fault run: a Kafka broker and a PostgreSQL cluster of its
own (own ports, own data directories), so restarting them disturbs nobody else.

The broker is ``infra/kafka.sh`` with ``KAFKA_PORT``, ``KAFKA_CONTROLLER_PORT`` and
``KAFKA_HOME_DIR`` pointing elsewhere (its jars are linked from the repository's cache); the
cluster is Debian's ``pg_createcluster 15 <name> -p <port>``, driven by ``pg_ctlcluster``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from services.settings import REPO


@dataclass
class PrivateKafka:
    home: Path
    port: int = 19092
    controller_port: int = 19093

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _script(self, action: str) -> None:
        env = {
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "KAFKA_HOME_DIR": str(self.home),
            "PATH": "/usr/local/bin:/usr/bin:/bin",
        }
        subprocess.run(
            [str(REPO / "infra/kafka.sh"), action], env=env, check=True, stdout=sys.stderr
        )

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        lib = self.home / "lib"
        if not lib.exists():
            lib.symlink_to(REPO / ".cache/kafka/lib")
        self._script("start")

    def stop(self) -> None:
        self._script("stop")

    def restart(self) -> None:
        self.stop()
        self.start()


@dataclass
class PrivatePostgres:
    name: str = "kalema_fault"
    port: int = 5442
    version: str = "15"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            ["pg_ctlcluster", self.version, self.name, *args], check=True, stdout=sys.stderr
        )

    def start(self) -> None:
        listed = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
        if not any(line.split()[:2] == [self.version, self.name] for line in listed.splitlines()):
            subprocess.run(
                ["pg_createcluster", self.version, self.name, "-p", str(self.port)],
                check=True,
                stdout=sys.stderr,
            )
        if (
            "online"
            not in subprocess.run(
                ["pg_lsclusters", self.version, self.name, "-h"], capture_output=True, text=True
            ).stdout
        ):
            self._ctl("start")
        self._psql(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kalema') THEN "
            "CREATE ROLE kalema LOGIN PASSWORD 'kalema'; END IF; END $$;"
        )
        if not self._psql("SELECT 1 FROM pg_database WHERE datname = 'kalema'"):
            self._psql("CREATE DATABASE kalema OWNER kalema")

    def _psql(self, sql: str) -> str:
        command = ["runuser", "-u", "postgres", "--", "psql", "-p", str(self.port), "-tAqc", sql]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def drop(self) -> None:
        self.stop()
        subprocess.run(["pg_dropcluster", self.version, self.name], check=True)


def wait_port(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"port {port} did not open")
