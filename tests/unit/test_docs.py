"""The documentation: every page of the site is reachable from its navigation (the strict build,
``make docs``, fails on broken links and anchors as well)."""

from pathlib import Path
from typing import Any

import yaml

from services.settings import REPO

DOCS = REPO / "docs"
GENERATED = {"wire/asyncapi.md", "api/openapi.md"}  # written by docs/hooks/contracts.py


class _Loader(yaml.SafeLoader):
    """mkdocs.yml's YAML, with its ``!!python/name:`` tags read as plain text."""


_Loader.add_multi_constructor("tag:yaml.org,2002:python/name:", lambda loader, suffix, node: suffix)


def _pages(nav: Any) -> set[str]:
    if isinstance(nav, str):
        return {nav}
    if isinstance(nav, list):
        return set().union(*(_pages(item) for item in nav))
    if isinstance(nav, dict):
        return set().union(*(_pages(value) for value in nav.values()))
    return set()


def _config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load((REPO / "mkdocs.yml").read_text(), Loader=_Loader)
    return loaded


def test_every_page_in_docs_is_in_the_navigation_and_every_entry_is_a_page():
    written = {
        path.relative_to(DOCS).as_posix()
        for path in DOCS.rglob("*.md")
        if "hooks" not in path.relative_to(DOCS).parts
    }

    assert _pages(_config()["nav"]) == written | GENERATED


def test_the_site_is_built_strict_with_links_anchors_and_orphans_checked():
    config = _config()

    assert config["strict"] is True
    assert config["validation"]["nav"]["omitted_files"] == "warn"
    assert set(config["validation"]["links"].values()) == {"warn"}


def test_the_site_loads_nothing_from_a_cdn():
    config = _config()

    assert config["theme"]["font"] is False
    assert all(not Path(script).is_absolute() for script in config["extra_javascript"])
    assert all("//" not in script for script in config["extra_javascript"])


def test_the_readme_is_at_most_200_lines_and_opens_with_the_two_commands():
    lines = (REPO / "README.md").read_text().splitlines()

    assert len(lines) <= 200
    assert lines[3].startswith("make run ")
    assert lines[4].startswith("make test ")


def test_the_operating_page_names_every_benchmark_credits_bench_runs():
    from services.cli import Bench

    page = (DOCS / "operating" / "index.md").read_text()

    assert [b.value for b in Bench if f"`{b.value}`" not in page] == []


def test_every_kalema_variable_the_project_names_is_a_setting():
    """A variable renamed in the settings but not in a page, a comment or a script would
    send an operator to a setting that does nothing. ``KALEMA_STRIPE_*`` (a family) is
    allowed; the test suite's own names are not checked."""
    import re
    import subprocess

    from docs.hooks.configuration import CLASSES

    settings = {f"KALEMA_{name.upper()}" for cls, _ in CLASSES for name in cls.model_fields}
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    named: dict[str, set[str]] = {}
    for path in tracked:
        if path.startswith("tests/") or not path.endswith(TEXTS):
            continue
        for found in re.finditer(r"KALEMA_[A-Z0-9_]+(\*?)", (REPO / path).read_text()):
            name = found.group(0)
            if not found.group(1) and not name.endswith("_"):
                named.setdefault(name, set()).add(path)

    assert len(named) > 40  # the scan saw them
    assert {name: paths for name, paths in named.items() if name not in settings} == {}


TEXTS = (".md", ".py", ".yaml", ".yml", ".sh", ".js", ".html", ".toml", "Makefile", "Dockerfile")
