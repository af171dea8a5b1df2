"""Hear SIGTERM/SIGINT before the server's own handler, so waiting requests can end first.

uvicorn stops accepting, then waits for open requests before it runs the lifespan shutdown;
a long poll or an event stream would hold it for the whole grace period and be cancelled
with a traceback. A callback run as the signal arrives lets them answer and close instead.
"""

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def on_termination(callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` in the running loop when a stop signal arrives; returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signal handlers belong to the main thread (not in test clients)
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def handle(sig: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(callback)
        prior = previous[signal.Signals(sig)]
        if callable(prior):
            prior(sig, frame)
        else:  # the default action (or none): put it back and let it happen
            restore()
            signal.raise_signal(sig)

    for sig in SIGNALS:
        signal.signal(sig, handle)
    return restore
