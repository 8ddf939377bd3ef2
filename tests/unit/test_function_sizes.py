"""No function over 70 lines in the code that ships, the benchmarks and the reliability runs: a
longer one is split into named steps. Counted from its ``def`` to its last line, docstring and
comments included."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHECKED = ("events", "services", "projections", "benchmarks", "reliability")
MAX_LINES = 70


def too_long(root: Path, max_lines: int = MAX_LINES) -> list[str]:
    """Every function or method under ``root`` longer than ``max_lines``, as path:line name."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > max_lines:
                    where = path.relative_to(root.parent)
                    found.append(f"{where}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_is_longer_than_70_lines():
    found = [entry for folder in CHECKED for entry in too_long(REPO / folder)]

    assert found == [], "split these into named steps:\n" + "\n".join(found)


def test_the_check_names_a_function_that_is_too_long(tmp_path):
    body = "\n".join(f"    x{n} = {n}" for n in range(MAX_LINES))
    (tmp_path / "long.py").write_text(f"def sprawling():\n{body}\n")

    assert too_long(tmp_path) == [f"{tmp_path.name}/long.py:1 sprawling (71 lines)"]
