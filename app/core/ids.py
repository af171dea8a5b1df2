"""Row ids in URLs, bounded by their columns: a bigger number is a clear 422, never a 500
from the database ("bigint out of range")."""

from typing import Annotated

from fastapi import Path

IntId = Annotated[int, Path(ge=1, le=2**31 - 1, description="an id (integer column)")]
BigId = Annotated[int, Path(ge=1, le=2**63 - 1, description="an id (bigint column)")]
