"""`python -m app serve` with one value more for strings and one for the system in the field
table, and nothing else changed.

The test that uses it adds the columns itself (the migration's part). Importing this module
changes nothing: only running it extends the table, so the test process keeps the real one.
"""

import sys

from app.telemetry import fields

DC_LINK = fields.Measure("dc_link_v", "float4", 0, 1500, "V", "DC link voltage at the PCS")
GRID_HZ = fields.Measure("grid_hz", "float4", 45, 65, "Hz", "grid frequency at the meter")


def serve_with_the_added_lines() -> int:
    """Add the two lines, then run the usual command line (which imports everything after)."""
    fields.STRING_MEASURES = (*fields.STRING_MEASURES, DC_LINK)
    fields.SYSTEM_MEASURES = (*fields.SYSTEM_MEASURES, GRID_HZ)
    from app.cli import main  # noqa: PLC0415 - only after the table has its new lines

    return main()


if __name__ == "__main__":
    sys.exit(serve_with_the_added_lines())
