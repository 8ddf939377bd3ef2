"""The compiled core is served only when built from the sources on disk (services/native.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services import native


@pytest.fixture
def sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the compiled modules' sources, standing in for the checkout."""
    for module in native.MODULES:
        copy = tmp_path.joinpath(*module.split(".")).with_suffix(".py")
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(native.source(module), copy)
    monkeypatch.setattr(native, "ROOT", tmp_path)
    monkeypatch.setattr(native, "CACHE", tmp_path / ".cache" / "native")
    return tmp_path


def test_a_source_edited_after_its_build_names_another_build_so_the_old_one_is_not_served(
    sources: Path,
):
    built = native.build_dir()
    rules = native.source("services.ledger.core.decide")
    rules.write_text(rules.read_text() + "\n# an edit\n")

    assert native.build_dir() != built


def test_a_build_serves_only_the_compiled_modules_and_its_shared_library(tmp_path: Path):
    for name in ("projections/finance", "abc123__mypyc", "projections/projector"):
        tmp_path.joinpath(name + native.SUFFIX).parent.mkdir(parents=True, exist_ok=True)
        tmp_path.joinpath(name + native.SUFFIX).touch()
    finder = native._Compiled(tmp_path)

    finance = finder.find_spec("projections.finance")
    assert finance is not None and finance.origin == str(
        tmp_path / "projections" / f"finance{native.SUFFIX}"
    )
    assert finder.find_spec("abc123__mypyc") is not None
    assert finder.find_spec("projections.projector") is None  # not compiled: its .py
    assert finder.find_spec("projections.alerts") is None  # compiled, but not in this build


@pytest.mark.parametrize(
    ("value", "on"),
    [("1", True), ("true", True), ("0", False), ("false", False), ("Off", False), ("no", False)],
)
def test_kalema_native_is_read_as_the_settings_read_a_boolean(
    value: str, on: bool, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("KALEMA_NATIVE", value)

    assert native.enabled() is on


def test_the_modules_run_compiled_exactly_when_a_build_of_these_sources_is_served():
    from projections import batch, finance
    from services.ledger.core import state

    served = native._finder is not None
    assert [native.compiled(m) for m in (state, finance, batch)] == [served] * 3


def test_a_process_started_now_runs_compiled_only_with_a_build_of_these_sources_and_the_setting_on(
    sources: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("KALEMA_NATIVE", "1")
    assert not native.available()  # nothing built yet

    native.build_dir().mkdir(parents=True)
    assert native.available()

    monkeypatch.setenv("KALEMA_NATIVE", "0")
    assert not native.available()
