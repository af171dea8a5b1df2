"""Key performance indicators (DESIGN.md §5): spread, MTTA, time to isolate, MTTR, availability."""
