"""MkDocs hook: the wire contracts, generated before every build and rendered as pages.

``services.contracts`` writes ``docs/asyncapi.json`` and ``docs/openapi.json`` (git-ignored,
copied into the site as downloads); this hook renders them as two Markdown pages, so the site
shows them without any script or network: ``wire/asyncapi.md`` (channels, messages, schemas)
and ``api/openapi.md`` (operations, schemas)."""

from __future__ import annotations

import json
from typing import Any

from mkdocs.structure.files import File, Files

from services import contracts

Json = dict[str, Any]


def on_pre_build(config: Any) -> None:
    """Write the documents, only where they changed (``mkdocs serve`` watches the folder)."""
    contracts.DOCS.mkdir(exist_ok=True)
    for path, text in contracts.documents().items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


def on_files(files: Files, config: Any) -> Files:
    docs = contracts.DOCS
    asyncapi = json.loads((docs / "asyncapi.json").read_text())
    openapi = json.loads((docs / "openapi.json").read_text())
    files.append(File.generated(config, "wire/asyncapi.md", content=asyncapi_page(asyncapi)))
    files.append(File.generated(config, "api/openapi.md", content=openapi_page(openapi)))
    return files


def asyncapi_page(doc: Json) -> str:
    info = doc["info"]
    lines = [
        "# Kafka topics (AsyncAPI)",
        "",
        f"{info.get('description', '')} Generated from the code at build time "
        f"(AsyncAPI {doc['asyncapi']}, document version {info['version']}): "
        "[download asyncapi.json](../asyncapi.json).",
        "",
        "| channel | topic | action | message |",
        "|---|---|---|---|",
    ]
    actions = {op["channel"]["$ref"].rsplit("/", 1)[-1]: op["action"] for op in _ops(doc)}
    for name, channel in sorted(doc["channels"].items()):
        payloads = ", ".join(
            _link(_payload(doc, message)) for message in channel["messages"].values()
        )
        lines.append(f"| {name} | `{channel['address']}` | {actions.get(name, '')} | {payloads} |")
    for name, channel in sorted(doc["channels"].items()):
        lines += ["", f"## {name}", "", _cell(channel.get("description", ""))]
    lines += ["", "## Schemas", ""]
    lines += _schemas(doc["components"]["schemas"])
    return "\n".join(lines) + "\n"


def openapi_page(doc: Json) -> str:
    info = doc["info"]
    lines = [
        "# HTTP API (OpenAPI)",
        "",
        f"{info['title']} {info['version']}, generated from the FastAPI application at build "
        f"time (OpenAPI {doc['openapi']}): [download openapi.json](../openapi.json).",
        "",
        "| method | path | summary | tag |",
        "|---|---|---|---|",
    ]
    operations = [
        (path, method, op)
        for path, item in sorted(doc["paths"].items())
        for method, op in item.items()
    ]
    for path, method, op in operations:
        anchor = op.get("operationId", "").lower().replace("_", "-")
        tags = ", ".join(op.get("tags", []))
        lines.append(
            f"| {method.upper()} | `{path}` | [{op.get('summary', '')}](#{anchor}) | {tags} |"
        )
    for path, method, op in operations:
        lines += _operation(path, method, op)
    lines += ["", "## Schemas", ""]
    lines += _schemas(doc.get("components", {}).get("schemas", {}))
    return "\n".join(lines) + "\n"


def _operation(path: str, method: str, op: Json) -> list[str]:
    anchor = op.get("operationId", "").lower().replace("_", "-")
    lines = [
        "",
        f"### {method.upper()} {path} {{ #{anchor} }}",
        "",
        _cell(op.get("description") or op.get("summary", "")),
        "",
    ]
    params = op.get("parameters", [])
    if params:
        lines += ["| parameter | in | type | required | description |", "|---|---|---|---|---|"]
        lines += [
            f"| `{p['name']}` | {p['in']} | {_type(p.get('schema', {}))} | "
            f"{'yes' if p.get('required') else 'no'} | {_cell(p.get('description', ''))} |"
            for p in params
        ]
        lines.append("")
    body = op.get("requestBody", {}).get("content", {})
    for media, content in body.items():
        lines.append(f"Body ({media}): {_type(content.get('schema', {}))}")
        lines.append("")
    lines += ["| status | response |", "|---|---|"]
    for status, response in op.get("responses", {}).items():
        schemas = [c.get("schema", {}) for c in response.get("content", {}).values()]
        shown = ", ".join(_type(s) for s in schemas if s)
        lines.append(f"| {status} | {_cell(response.get('description', ''))} {shown} |")
    return lines


def _schemas(schemas: Json) -> list[str]:
    lines: list[str] = []
    for name, schema in sorted(schemas.items()):
        lines += [f"### {name} {{ #{_anchor(name)} }}", ""]
        if schema.get("description"):
            lines += [_cell(schema["description"]), ""]
        properties = schema.get("properties", {})
        if properties:
            required = set(schema.get("required", []))
            lines += ["| field | type | required | description |", "|---|---|---|---|"]
            lines += [
                f"| `{field}` | {_type(spec)} | {'yes' if field in required else 'no'} | "
                f"{_cell(spec.get('description', ''))} |"
                for field, spec in properties.items()
            ]
        elif schema.get("enum"):
            lines.append("One of: " + ", ".join(f"`{value}`" for value in schema["enum"]))
        else:
            lines.append(_type(schema))
        lines.append("")
    return lines


def _ops(doc: Json) -> list[Json]:
    return list(doc.get("operations", {}).values())


def _payload(doc: Json, message: Json) -> str:
    if "$ref" in message:
        message = _resolve(doc, message["$ref"])
    payload = message.get("payload", {})
    ref = payload.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else message.get("title", "")


def _resolve(doc: Json, ref: str) -> Json:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node  # type: ignore[no-any-return]


def _type(schema: Json) -> str:
    """A schema as a short type: a link to a named schema, or its JSON type."""
    if "$ref" in schema:
        return _link(schema["$ref"].rsplit("/", 1)[-1])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " \\| ".join(_type(option) for option in schema[key])
    if schema.get("type") == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if "const" in schema:
        return f"`{schema['const']}`"
    if "enum" in schema:
        return " \\| ".join(f"`{value}`" for value in schema["enum"])
    kind = schema.get("type", "any")
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


def _link(name: str) -> str:
    return f"[{name}](#{_anchor(name)})" if name else ""


def _anchor(name: str) -> str:
    return "schema-" + "".join(c if c.isalnum() else "-" for c in name.lower())


def _cell(text: str) -> str:
    """Text that stays inside one Markdown table cell or paragraph."""
    return " ".join(str(text).split()).replace("|", "\\|")
