"""Battery health: weak cells, self-discharge, trends (issue 23)."""
