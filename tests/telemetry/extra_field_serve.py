"""`python -m app serve` with one value more for strings and one for the system in the field
table, and nothing else changed.

The test that uses it adds the column to both tables itself (the migration's part).
"""

import sys

from app.telemetry import fields

# Before anything else imports the table: every derived piece is built from it at import.
DC_LINK = fields.Measure("dc_link_v", "float4", 0, 1500, "V", "DC link voltage at the PCS")
GRID_HZ = fields.Measure("grid_hz", "float4", 45, 65, "Hz", "grid frequency at the meter")
fields.STRING_MEASURES = (*fields.STRING_MEASURES, DC_LINK)
fields.SYSTEM_MEASURES = (*fields.SYSTEM_MEASURES, GRID_HZ)

from app.cli import main  # noqa: E402 - must come after the table has its new line

if __name__ == "__main__":
    sys.exit(main())
