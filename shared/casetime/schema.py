"""Export the event contract as JSON Schema: `uv run casetime-schema` rewrites the committed file.

A test fails when the committed schema differs from the code, so a contract change is always a
reviewed change of schemas/.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from casetime.events import ANY_EVENT_ADAPTER, CONTRACT_VERSION

SCHEMA_PATH = (
    Path(__file__).resolve().parents[2]
    / "schemas"
    / (f"casetime-events.v{CONTRACT_VERSION}.schema.json")
)


def event_schema() -> dict[str, Any]:
    schema = ANY_EVENT_ADAPTER.json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://casetime.example/schemas/casetime-events.v{CONTRACT_VERSION}.schema.json",
        "title": f"casetime case event, contract version {CONTRACT_VERSION}",
        **schema,
    }


def render() -> str:
    return json.dumps(event_schema(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=SCHEMA_PATH)
    args = parser.parse_args()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render())
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
