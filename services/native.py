"""The pure core and the projector's folds compiled with mypyc, used only when built from
exactly the sources on disk.

The credit rules (``services.ledger.core``, the chain) and the folds of the read model
(``projections.balance``, ``batch``, ``finance``, ``alerts``, ``history``) are typed, pure
Python, and so is the ledger's batch loop (``services.ledger.ledger``, ``intake``) around
them, and the reading of stored events that feeds both (``services.ledger.upcasting``,
``events.reading``, ``events.trusted``). mypyc (part of mypy) compiles them unchanged into C
extensions, which run the ledger and the projector on less CPU (BENCHMARKS.md, issue 26, the
fifteenth pass). The Python sources stay the only code anyone edits or reads.

A build lives in ``.cache/native/<key>/``, its key a hash of every compiled module's source
and the interpreter's tag. ``install`` (run by the ``services.ledger`` and ``projections``
packages, before any of their modules loads) puts a finder first on ``sys.meta_path`` that
serves each compiled module from the build whose key matches the sources as they are now. So
an edited source is never shadowed by a build of its old self: it runs as Python until
``make native`` builds it again. ``KALEMA_NATIVE=0`` runs everything as Python. No build (a
machine without a C compiler, the image) runs as Python too: the same rules, slower.

A profiler (py-spy) sees a compiled function as native code: profile with
``KALEMA_NATIVE=0`` to see its Python lines.

A build is code, loaded like the sources: it lives under the checkout (or the installed
package), where only whoever may change the sources may write.

``python -m services.native`` builds (nothing to do when the build is there);
``python -m services.native status`` says which form runs.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

MODULES = (
    "events.reading",
    "events.trusted",
    "services.ledger.upcasting",
    "services.ledger.chain",
    "services.ledger.intake",
    "services.ledger.ledger",
    "services.ledger.core.decide",
    "services.ledger.core.invariants",
    "services.ledger.core.lots",
    "services.ledger.core.past",
    "services.ledger.core.state",
    "projections.alerts",
    "projections.balance",
    "projections.batch",
    "projections.finance",
    "projections.history",
)
ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "native"
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]  # ".cpython-311-x86_64-linux-gnu.so"
# mypyc's shared library for a group of modules: a top-level module the others import.
SHARED = "__mypyc"


def source(module: str) -> Path:
    return ROOT.joinpath(*module.split(".")).with_suffix(".py")


def key() -> str:
    """The build's name: every compiled module's source, and the interpreter it is for."""
    digest = hashlib.sha256(sys.implementation.cache_tag.encode())
    for module in MODULES:
        digest.update(module.encode() + b"\0" + source(module).read_bytes() + b"\0")
    return digest.hexdigest()[:24]


def build_dir() -> Path:
    return CACHE / key()


def enabled() -> bool:
    """``KALEMA_NATIVE`` (``Settings.native``), read as pydantic reads a boolean: this runs
    as a package is imported, before any settings are loaded."""
    return os.environ.get("KALEMA_NATIVE", "1").strip().lower() not in _FALSE


_FALSE = ("0", "off", "f", "false", "n", "no")  # pydantic's words for false


class _Compiled(importlib.abc.MetaPathFinder):
    """Serves the compiled modules (and mypyc's shared library) from one build."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname not in MODULES and not fullname.endswith(SHARED):
            return None
        file = self.directory.joinpath(*fullname.split(".")).with_suffix(SUFFIX)
        if not file.is_file():
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(file))
        return importlib.util.spec_from_file_location(fullname, file, loader=loader)


_finder: _Compiled | None = None


def install() -> bool:
    """Serve the compiled modules, if a build of the sources as they are exists; whether it
    does. Runs once per process; a module already imported stays what it is."""
    global _finder
    if _finder is not None:
        return True
    directory = usable_build()
    if directory is None:
        return False
    _finder = _Compiled(directory)
    sys.meta_path.insert(0, _finder)
    return True


def usable_build() -> Path | None:
    """The build a process started now would serve: the setting allows it and a build of the
    sources as they are exists (None: it runs as Python)."""
    if not enabled() or not all(source(m).is_file() for m in MODULES):
        return None
    directory = build_dir()  # hashes every compiled module's source: once per call
    return directory if directory.is_dir() else None


def available() -> bool:
    """Whether a process started now would run compiled (``install``'s check, for a process
    that starts others, as a benchmark does)."""
    return usable_build() is not None


def compiled(module: ModuleType) -> bool:
    """Whether ``module`` runs compiled."""
    return str(getattr(module, "__file__", "")).endswith(SUFFIX)


def build() -> Path:
    """Compile ``MODULES`` into their build (mypyc, then the C compiler), unless it exists."""
    directory = build_dir()
    if directory.is_dir():
        return directory
    from mypyc.build import mypycify  # a development dependency: only building needs it
    from setuptools import Distribution  # type: ignore[import-untyped]

    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        work = Path(scratch)
        here = Path.cwd()
        os.chdir(ROOT)  # mypycify names the modules by their paths from here
        try:
            paths = [str(source(m).relative_to(ROOT)) for m in MODULES]
            extensions = mypycify(paths, opt_level="3", target_dir=str(work / "c"))
            distribution = Distribution({"name": "kalema-native", "ext_modules": extensions})
            command = distribution.get_command_obj("build_ext")
            command.build_lib = str(work / "lib")
            command.build_temp = str(work / "temp")
            command.ensure_finalized()
            command.run()
        finally:
            os.chdir(here)
        try:
            (work / "lib").rename(directory)  # whole or not at all: a build racing this one
        except OSError:
            if not directory.is_dir():
                raise
    for stale in CACHE.iterdir():  # builds of earlier sources
        if stale != directory and not stale.name.startswith("tmp"):
            shutil.rmtree(stale, ignore_errors=True)
    return directory


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["status"]:
        state = "built" if build_dir().is_dir() else "not built (make native)"
        print(f"native build {key()}: {state}; KALEMA_NATIVE={'on' if enabled() else 'off'}")
        return 0
    print(f"native build: {build()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
