"""What `check-config` warns about: mappings that load but are almost certainly wrong."""

import re
import tomllib
from collections import defaultdict
from pathlib import Path

from edge.can.protocol import Protocol, Route
from edge.site import SiteFile

CATALOGUE = Path(__file__).resolve().parents[2] / "app" / "alarms" / "fault_codes.toml"
NUMBERED = re.compile(r"^(.*?)(\d+)(\D*)$")  # prefix, number, suffix: CellVoltage_017_Valid


def warnings(protocol: Protocol, site: SiteFile | None = None) -> list[str]:
    """Every warning for this protocol (and, given one, the site file that uses it)."""
    found: list[str] = []
    for route in _distinct_routes(protocol):
        found += _family_gaps(route) + _unbound(route)
    found += _uncatalogued_codes(protocol)
    if site is not None:
        found += _site_mismatch(protocol, site)
    return found


def _distinct_routes(protocol: Protocol) -> list[Route]:
    """One route per message (an id_range gives one route per frame id, all alike)."""
    return list({route.message: route for route in protocol.routes.values()}.values())


def _bound_signals(route: Route) -> set[str]:
    bound = {f.signal for f in route.fields} | {f.valid for f in route.fields if f.valid}
    readers = (route.string, route.module)
    return bound | {r.signal for r in readers if r is not None and r.signal}


def _families(names: set[str]) -> dict[tuple[str, str], dict[int, str]]:
    """Signals numbered alike (Cell_000, Cell_001...) by (prefix, suffix), number -> name."""
    families: dict[tuple[str, str], dict[int, str]] = defaultdict(dict)
    for name in names:
        match = NUMBERED.match(name)
        if match:
            families[(match.group(1), match.group(3))][int(match.group(2))] = name
    return families


def _family_gaps(route: Route) -> list[str]:
    """A numbered family whose first or last member is unbound: almost always off by one."""
    every = _families({s.name for s in route.message_def.signals})
    bound = _bound_signals(route)
    out = []
    for (prefix, suffix), members in sorted(every.items()):
        used = sorted(n for n, name in members.items() if name in bound)
        unused = sorted(n for n, name in members.items() if name not in bound)
        ends = [members[n] for n in (min(members), max(members)) if n in unused]
        if used and ends:
            match = NUMBERED.match(members[max(members)])
            width = len(match.group(2)) if match else 1
            out.append(
                f"message {route.message}: {prefix}…{suffix} members {', '.join(ends)} "
                f"are not bound, while {members[used[0]]}..{members[used[-1]]} are: "
                "off by one? If the DBC counts from 0, write {n-1} in the template "
                "(e.g. " + prefix + "{n-1:0" + str(width) + "}" + suffix + ")"
            )
    return out


def _unbound(route: Route) -> list[str]:
    """Signals of a mapped message that nothing reads (multiplexers excepted)."""
    bound = _bound_signals(route)
    left = sorted(
        s.name for s in route.message_def.signals if s.name not in bound and not s.is_multiplexer
    )
    if not left:
        return []
    shown = ", ".join(left[:8]) + (f" and {len(left) - 8} more" if len(left) > 8 else "")
    return [
        f"message {route.message}: {len(left)} signals are not bound ({shown}); bind them "
        "or ignore this if the model has no field for them"
    ]


def _uncatalogued_codes(protocol: Protocol) -> list[str]:
    """Fault codes the backend's catalogue has no text for (operators see a generic entry)."""
    if not CATALOGUE.exists():
        return []
    known = set(tomllib.loads(CATALOGUE.read_text(encoding="utf-8")))
    codes = sorted({c for names in protocol.fault_names.values() for c in names.values()} - known)
    if not codes:
        return []
    return [
        f"fault codes without catalogue text: {', '.join(codes)}; add an entry for each to "
        f"{CATALOGUE.relative_to(CATALOGUE.parents[2])} (title, priority, meaning, "
        "actions) or operators see only the code"
    ]


def _site_mismatch(protocol: Protocol, site: SiteFile) -> list[str]:
    """Cells or sensors per module in the site file that the mapping does not bind."""
    out = []
    for field, configured in (
        ("cell_v", site.site.cells_per_module),
        ("temp_c", site.site.temps_per_module),
    ):
        positions = {
            f.index
            for r in protocol.routes.values()
            for f in r.fields
            if f.field == field and f.index is not None
        }
        bound = max(positions) + 1 if positions else 0
        if bound and bound != configured:
            what = "cells_per_module" if field == "cell_v" else "temps_per_module"
            effect = (
                "every module sample is held back (counted as incomplete_module)"
                if field == "cell_v" and configured > bound
                else "the extra values are not stored"
            )
            out.append(
                f"site {site.site.code}: {what} = {configured} but the mapping binds "
                f"{bound} per module; {effect}. Make them agree."
            )
    return out
