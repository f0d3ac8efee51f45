"""uvicorn's WebSocket protocol with one ASGI extension: writing a prepared frame.

A push is the same bytes for every receiver (server-to-client frames are not masked), so the
fan-out hub serialises each push's WebSocket frame once (`messenger.fanout.Push.wire`) and
the gateway hands it to `scope["extensions"][EXTENSION]["write"]`, which puts it on the
socket's transport at once: no ASGI message, no per-copy framing, no task switch per copy.
The write refuses (returns False) whenever the socket is not open for frames or its
transport is above its high-water mark; the gateway then queues the push and sends it through
ASGI as before, so a slow socket still fills its bounded outbox and is closed (4008).

Servers without the extension (daphne, uvicorn's own protocol classes) take the ASGI path
for every push. Measured in docs/benchmarks.md ("Prepared frames").
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from messenger.gateway.shutdown import stopping_begin

EXTENSION = "messenger.prepared_frames"

# uvicorn pings every socket this often and closes one whose pong is 20 s late. Its default of
# 20 s was most of an idle process's CPU (10,000 sockets: 500 pings a second); clients prove
# themselves alive with `alive` every 25 s anyway, and a socket's presence entry outlives a
# silent client by up to 90 s, so a dead peer's socket closed within 80 s is in step with it
# (docs/benchmarks.md, "Idle connections").
PING_INTERVAL_SECONDS = 60

# The production options of a uvicorn server process (docs/operations.md); the benchmark and
# the live and fault tests start their servers with the same ones.
UVICORN_OPTIONS = [
    "--ws",
    "messenger.gateway.uvicorn_protocol:PreparedFrameProtocol",
    # Chat frames are small and fan out to many sockets: compressing each copy cost a quarter
    # of the server's CPU in the 500-member profile (docs/benchmarks.md).
    "--ws-per-message-deflate",
    "false",
    # Above the gateway's own frame limit (MESSENGER_WS_FRAME_MAX_BYTES, 64 KiB), below
    # uvicorn's default of 16 MiB (docs/operations.md, "Frame size").
    "--ws-max-size",
    "1048576",
    "--ws-ping-interval",
    str(PING_INTERVAL_SECONDS),
    "--ws-ping-timeout",
    "20",
    # A backstop only: on SIGTERM the sockets are closed (1012) and their bookkeeping written
    # in one go (messenger/gateway/shutdown.py), in well under a second; whatever still runs
    # after this many seconds is cancelled, so a deploy never waits longer.
    "--timeout-graceful-shutdown",
    "10",
]

# A socket told to close at shutdown whose client does not read keeps unsent bytes, and asyncio
# closes a transport only once its buffer is empty: uvicorn would wait for it for ever
# ("Waiting for connections to close"). It is cut after this many seconds.
SHUTDOWN_ABORT_SECONDS = 2.0


class PreparedFrameProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        # The application task is created at the end of handle_connect but runs only on the
        # loop's next turn, so the scope it will see can still be given the extension here.
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][EXTENSION] = {"write": self.write_prepared}

    def shutdown(self) -> None:
        """The server is stopping (SIGTERM): uvicorn closes the socket with 1012 and gives the
        application its disconnect; the gateway records it with the others closed at the same
        moment (messenger/gateway/shutdown.py)."""
        stopping_begin()
        super().shutdown()
        self.loop.call_later(SHUTDOWN_ABORT_SECONDS, self._abort_unflushed)

    def _abort_unflushed(self) -> None:
        if not self.disconnected:
            self.transport.abort()

    def write_prepared(self, frame: bytes) -> bool:
        """Write one complete, unmasked WebSocket frame; False if the socket cannot take it
        now (not yet accepted, closing or closed, or its write buffer is full)."""
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or self.initial_response is not None
            or not self.writable.is_set()
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(frame)
        return True
