"""A site's strings and modules as the edge addresses them: (string, position) numbers."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ModuleAsset:
    """What the registry knows about one module."""

    module_id: int
    rack_id: int
    cell_count: int
    temp_count: int


@dataclass(frozen=True)
class SiteAssets:
    """A site's strings and modules, addressed as the edge addresses them."""

    site_id: int
    racks: dict[int, int]  # string index -> rack id
    modules: dict[tuple[int, int], ModuleAsset]  # (string index, position) -> module
