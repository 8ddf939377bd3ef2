"""Every import points down the layers the README's map draws, never up: a room that imports
one above it (the ledger reading its own readers, plumbing typed by the store) fails here,
named by its import. Read from the source with ``ast``, lazy imports inside functions and
imports for type checking included: a layer is a promise about the code, not only about what
runs."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHECKED = ("events", "services", "projections", "examples", "benchmarks", "reliability")

# Low to high; a module may import its own layer and the ones below. The most specific prefix
# names a module's layer (``services.ledger.core`` is pure, the rest of ``services.ledger`` the
# shell; ``services`` alone is the plumbing).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("wire contract", ("events",)),
    ("pure core", ("services.ledger.core", "services.ledger.chain")),
    ("plumbing", ("services",)),
    ("ledger shell", ("services.ledger",)),
    ("read model", ("projections",)),
    ("producers", ("services.client", "services.payments", "services.clock", "services.topup")),
    ("readers", ("services.api", "services.audit")),
    ("command line", ("services.cli", "services.run", "services.contracts")),
    ("outside", ("examples", "benchmarks", "reliability")),
)


def layer_of(module: str) -> int:
    """The index in ``LAYERS`` of the most specific prefix that names ``module``."""
    best, depth = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and prefix.count(".") > depth:
                best, depth = index, prefix.count(".")
    return best


def imports_of(path: Path, module: str) -> list[tuple[int, str]]:
    """Every module of ours that ``path`` imports, with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if layer_of(name) >= 0]


def upward_imports(root: Path, folders: tuple[str, ...] = CHECKED) -> list[str]:
    """Every import from a lower layer to a higher one, as ``path:line module -> imported``."""
    found = []
    for folder in folders:
        for path in sorted((root / folder).rglob("*.py")):
            module = ".".join(path.relative_to(root).with_suffix("").parts)
            module = module.removesuffix(".__init__")
            for line, name in imports_of(path, module):
                if layer_of(name) > layer_of(module):
                    above, below = LAYERS[layer_of(name)][0], LAYERS[layer_of(module)][0]
                    where = path.relative_to(root)
                    found.append(f"{where}:{line} ({below}) imports {name} ({above})")
    return found


def test_no_module_imports_a_layer_above_its_own():
    found = upward_imports(REPO)

    assert found == [], "these point up the layers:\n" + "\n".join(found)


def test_the_check_names_an_import_that_points_up(tmp_path):
    (tmp_path / "services" / "ledger").mkdir(parents=True)
    (tmp_path / "services" / "ledger" / "shell.py").write_text(
        "import events.ledger\nfrom projections.store import BalanceReadModel\n"
    )

    assert upward_imports(tmp_path, ("services",)) == [
        "services/ledger/shell.py:2 (ledger shell) imports "
        "projections.store.BalanceReadModel (read model)"
    ]


def test_the_most_specific_prefix_names_the_layer():
    assert LAYERS[layer_of("services.ledger.core.decide")][0] == "pure core"
    assert LAYERS[layer_of("services.ledger.consumer")][0] == "ledger shell"
    assert LAYERS[layer_of("services.tail")][0] == "plumbing"
    assert LAYERS[layer_of("services.client")][0] == "producers"
    assert layer_of("typer") == -1
