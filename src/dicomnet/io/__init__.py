"""Drivers: move bytes between a socket and the sans-IO ``Connection``, and keep its timers.

``Channel`` is the threaded driver of one association; ``Listener`` accepts transport
connections. Nothing here knows about pydicom, handlers or the public API.
"""

from dicomnet.io.channel import Channel, ChannelHandler, ChannelTimeouts
from dicomnet.io.listener import Listener, listening_socket
from dicomnet.io.waiter import Waiter

__all__ = [
    "Channel",
    "ChannelHandler",
    "ChannelTimeouts",
    "Listener",
    "Waiter",
    "listening_socket",
]
