"""CSV cells a spreadsheet shows as text and never runs as a formula (CSV injection).

A text cell starting with = + - @ (or a tab or carriage return, which some spreadsheets skip
before looking) is read as a formula: `=HYPERLINK(...)` in an acknowledgement note would become
a live link, worse in some. Such text gets a leading single quote, which spreadsheets read as
"this is text". Numbers are left alone, and so is text that is exactly a number (-3.5), so a
negative value stays a number for the spreadsheet and for scripts.
"""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """The value as it may go into a CSV cell."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS) or _is_number(value):
        return value
    return "'" + value


def _is_number(text: str) -> bool:
    if text != text.strip():
        return False  # float() would skip the whitespace a spreadsheet may not
    try:
        float(text)
    except ValueError:
        return False
    return True
