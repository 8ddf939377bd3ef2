"""Loads the catalog from its JSON file (the edge; the core only sees the validated model)."""

from __future__ import annotations

from pathlib import Path

from services.ledger.core import Catalog

DEFAULT_CATALOG_PATH = Path(__file__).with_name("catalog.json")


def load_catalog(path: Path | str | None = None) -> Catalog:
    """Read and validate a catalog file; the default is the one shipped with the ledger."""
    return Catalog.model_validate_json(Path(path or DEFAULT_CATALOG_PATH).read_text())
