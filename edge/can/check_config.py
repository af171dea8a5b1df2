"""`check-config`: validate a DBC + mapping pair and print the resolved signal table."""

from edge.can.protocol import Protocol, Route

COLUMNS = ("message", "frame id", "target", "field", "signal", "valid", "unit", "x", "range")


def _id_text(route: Route) -> str:
    width = 8 if route.extended else 3
    return f"{route.frame_id:0{width}X}/{route.id_mask:0{width}X}"


def signal_table(protocol: Protocol) -> list[tuple[str, ...]]:
    """One row per resolved signal binding, in DBC id order."""
    rows: list[tuple[str, ...]] = []
    for route in sorted(protocol.routes.values(), key=lambda r: (r.frame_id, r.message)):
        for field in route.fields:
            rows.append(
                (
                    route.message,
                    _id_text(route),
                    str(route.target),
                    field.label,
                    field.signal,
                    field.valid or "-",
                    field.unit or "-",
                    f"{field.factor:g}",
                    f"{field.low:g}..{field.high:g}",
                )
            )
    return rows


def render_table(protocol: Protocol) -> str:
    """The signal table as aligned text, with a summary line."""
    rows = [COLUMNS, *signal_table(protocol)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    summary = (
        f"{protocol.name}: {len(protocol.routes)} messages, {len(rows) - 1} signal "
        f"bindings, DBC {protocol.dbc_path.name}; OK"
    )
    return "\n".join([*lines, summary])
