"""A stop asked for (SIGINT or SIGTERM) before the edge is ready to act on it.

`python -m edge` takes seconds to import and load its protocol on a busy machine; a service
manager's SIGTERM in that time would otherwise kill it without a flush. This module imports
nothing heavy so that it can be installed first.
"""

import signal
import threading
from types import FrameType

requested = threading.Event()


def _remember(_signum: int, _frame: FrameType | None) -> None:
    requested.set()


def catch_early() -> None:
    """Remember SIGINT and SIGTERM from the first moment, while the edge still starts."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _remember)


def restore_defaults() -> bool:
    """Give SIGINT and SIGTERM back their usual effect; True if a stop came meanwhile."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return requested.is_set()
