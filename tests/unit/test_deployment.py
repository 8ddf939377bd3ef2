"""The deployment files: compose publishes ports on loopback only, the image runs unprivileged.
(No Docker engine runs here, so the files are checked as text.)"""

from __future__ import annotations

import re

from services.settings import REPO


def test_compose_publishes_every_port_on_127_0_0_1_only():
    compose = (REPO / "compose.yaml").read_text()
    published = re.findall(r'^\s+- "([^"]+:\d+)"\s*$', compose, flags=re.MULTILINE)

    assert published, "compose.yaml publishes no port at all?"
    assert all(port.startswith("127.0.0.1:") for port in published), published


def test_the_image_runs_as_a_non_root_user():
    users = re.findall(r"^USER\s+(\S+)", (REPO / "Dockerfile").read_text(), flags=re.MULTILINE)

    assert users, "the Dockerfile never leaves root"
    assert users[-1].split(":")[0] not in ("root", "0")
