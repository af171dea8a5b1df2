"""`python -m app serve` with one string value more in the field table, and nothing else changed.

The test that uses it adds the column to both tables itself (the migration's part).
"""

import sys

from app.telemetry import fields

# Before anything else imports the table: every derived piece is built from it at import.
DC_LINK = fields.Measure("dc_link_v", "float4", 0, 1500, "V", "DC link voltage at the PCS")
fields.STRING_MEASURES = (*fields.STRING_MEASURES, DC_LINK)

from app.cli import main  # noqa: E402 - must come after the table has its new line

if __name__ == "__main__":
    sys.exit(main())
