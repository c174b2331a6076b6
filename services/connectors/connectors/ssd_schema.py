"""The SSD's tables as SQLAlchemy tables, from Data to Insight's definitions (one YAML file
per table: ``nodes[0].fields[]`` with name, type and primary key; ../shared/samples/ssd/schema/):
to make the tables in a test or trial database, and nothing else (the connector reads whatever
the council's database holds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

TYPES: dict[str, Any] = {
    "nvarchar": sa.String,
    "nchar": sa.String,
    "varchar": sa.String,
    "datetime": sa.DateTime,
    "int": sa.Integer,
    "float": sa.Float,
    "bit": sa.Boolean,
}


def ssd_metadata(folder: Path) -> sa.MetaData:
    metadata = sa.MetaData()
    for path in sorted(folder.glob("ssd_*.yml")):
        node = yaml.safe_load(path.read_text())["nodes"][0]
        columns = [
            sa.Column(
                f["name"],
                TYPES.get(str(f.get("type", "")).lower(), sa.Text)(),
                primary_key=bool(f.get("primary_key")),
            )
            for f in node["fields"]
        ]
        sa.Table(node["name"], metadata, *columns)
    return metadata
