"""The edge's own interlock, judged on the BMS readings it has just seen: the final veto."""

from collections.abc import Mapping

CURRENT_MARGIN_A = 1.0
# Each string's latest scalar readings (contactor_closed, current_a, limits...), by number;
# current_a counts discharge as positive (SunSpec's sign, the model's convention).
Readings = Mapping[int, Mapping[str, float]]


def edge_refusal(kind: str, string: int | None, strings: Readings) -> str | None:
    """Why the edge will not isolate this string, or None: never the last closed string, never
    more current than the remaining strings may carry."""
    if kind != "isolate_string":
        return None
    closed = {n: s for n, s in strings.items() if s.get("contactor_closed", 0.0) >= 0.5}
    remaining = [s for n, s in closed.items() if n != string]
    if not remaining:
        return "edge interlock: this is the last connected string"
    current = sum(s.get("current_a", 0.0) for s in closed.values())
    flow = "discharge" if current >= 0 else "charge"
    capacity = sum(s.get(f"{flow}_limit_a", float("inf")) for s in remaining)
    if abs(current) > capacity - CURRENT_MARGIN_A:
        return (
            f"edge interlock: {abs(current):.0f} A of {flow} current would exceed the "
            f"remaining strings' {capacity:.0f} A"
        )
    return None
