"""Which sites a query covers: some site ids, or None for every site."""

from collections.abc import Sequence

SiteIds = Sequence[int] | None
