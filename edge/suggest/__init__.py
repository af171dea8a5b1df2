"""`suggest-mapping`: a draft mapping file from a vendor's CAN database."""

import os
import re
from pathlib import Path

from edge.suggest.build import build_draft
from edge.suggest.codes import catalogue_codes
from edge.suggest.render import render
from edge.suggest.signals import read_database


def suggest_mapping(database: Path, out: Path | None = None) -> str:
    """The draft mapping's text for a database; `dbc` is relative to where it will be written."""
    info = read_database(database)
    base = (out.parent if out else Path.cwd()).resolve()
    name = re.sub(r"[^a-z0-9]+", "-", database.stem.lower()).strip("-") or "vendor"
    relative = Path(os.path.relpath(database.resolve(), base)).as_posix()
    draft = build_draft(info, name=name, database=relative, catalogue=catalogue_codes())
    return render(draft)
