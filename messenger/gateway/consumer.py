"""The WebSocket gateway: one endpoint, JSON text frames, thin over the same services as REST.

Every client frame is {"id", "ev", "data"}; it is dispatched through the EVENTS table (never by
getattr on client input), checked against membership by the service at the moment it is
handled, and answered with an ack. Bad frames get an error ack and the connection stays up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone, translation
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from filetransfer import services as file_services
from messages import services as message_services
from messenger import jsoninput, presence
from messenger.errors import ApplicationError, InvalidInput, TooLarge, UnknownEvent, as_outage
from messenger.fanout import Hub, Push, Pushes
from messenger.gateway import shutdown
from messenger.gateway.auth import (
    CLOSE_BAD_REQUEST,
    CLOSE_DISABLED,
    CLOSE_REPLACED,
    CLOSE_TOO_SLOW,
    SUBPROTOCOL,
    AccountChecks,
)
from messenger.gateway.threads import on_worker_threads
from messenger.gateway.uvicorn_protocol import EXTENSION as PREPARED_FRAMES
from messenger.i18n import language_choose
from messenger.ratelimit import rate_limit_hit
from messenger.realtime import apublish_to_users, areplace_sessions, encode_frame
from orgsync.models import ActionLog, User
from orgsync.services import action_log_build, action_log_record
from orgsync.sessions import claimed_sid
from rooms import selectors as room_selectors

logger = logging.getLogger(__name__)

KINDS = ("web", "mobile")
REQUEST_ID_MAX = 64
CLOSE_INTERNAL = 1011
# Frames received and not yet handled; past this the socket is not read until one is done.
INBOX_MAX = 64
# Talk sends taken together at most: the room stays locked until their one commit, so other
# senders in the room wait for at most this many (docs/benchmarks.md, "Send batches").
SEND_BATCH_MAX = 64
# `alive` refreshes this connection's presence entry at most this often. With the entry's
# 90 s TTL and a heartbeat every 25 s, the entry never lapses (longest gap: 45 + 25 s), and
# a process with 10,000 idle sockets writes to Redis half as often (`python -m bench idle`).
PRESENCE_REFRESH_SECONDS = presence.TTL_SECONDS / 2

Handler = Callable[["GatewayConsumer", dict[str, Any]], Awaitable[dict[str, Any]]]


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers") or []:
        if key == name:
            return value.decode("latin-1")
    return ""


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)


def _ack_text(request_id: Any, result: Any, lang: str | None = None) -> str:
    """The ack of a frame whose handling gave `result`: the ack's data, an ApplicationError,
    or INTERNAL (the handler failed unexpectedly; the client is told to try again). Errors
    are written in the socket's language."""
    if isinstance(result, ApplicationError):
        with translation.override(lang):
            error = result.as_dict()
        return _dumps({"ack": request_id, "ok": False, "error": error})
    if result is INTERNAL:
        with translation.override(lang):
            error = {"code": "internal", "message": str(INTERNAL_MESSAGE)}
        return _dumps({"ack": request_id, "ok": False, "error": error})
    return _dumps({"ack": request_id, "ok": True, "data": result})


@dataclass(slots=True)
class Frame:
    """A client frame as received: its request id and event, or the error to answer it with.
    `room_id` is set on a talk send (a send_msg that is not a file forward, with a valid
    room_id): such frames to one room can be handled together."""

    request_id: Any = None
    event: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    error: ApplicationError | None = None
    room_id: int | None = None


# The result of a handler that failed unexpectedly (logged; the client is told to try again).
INTERNAL = object()
INTERNAL_MESSAGE = _("The server failed; try again.")


def _parse(text_data: str | None) -> Frame:
    """Check a frame's shape; a bad frame becomes an error answer in its turn."""
    request_id: Any = None
    try:
        if text_data is None:
            raise InvalidInput("Send JSON text frames; binary frames are not accepted.")
        limit = settings.MESSENGER["WS_FRAME_MAX_BYTES"]
        # Counting characters first spares encoding a huge frame just to refuse it: a frame
        # has at least as many bytes as characters.
        if len(text_data) > limit or len(text_data.encode("utf-8", "surrogatepass")) > limit:
            raise TooLarge(f"A frame may have at most {limit} bytes.")
        # Not valid JSON, or nested too deeply (RecursionError closed the socket with 1011).
        try:
            frame = jsoninput.loads(text_data)
        except jsoninput.BadJSON as exc:
            raise InvalidInput(str(exc)) from None
        if not isinstance(frame, dict):
            raise InvalidInput('A frame is a JSON object: {"id", "ev", "data"}.')
        request_id = frame.get("id")
        if (
            not isinstance(request_id, str | int)
            or isinstance(request_id, bool)
            or (isinstance(request_id, str) and len(request_id) > REQUEST_ID_MAX)
        ):
            request_id = None
            raise InvalidInput(f"id must be a string of at most {REQUEST_ID_MAX} characters.")
        event = frame.get("ev")
        if not isinstance(event, str) or event not in EVENTS:
            raise UnknownEvent(
                format_lazy(
                    _("Unknown event. Known events: {events}."), events=", ".join(sorted(EVENTS))
                )
            )
        data = frame.get("data", {})
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise InvalidInput("data must be a JSON object.")
    except ApplicationError as error:
        return Frame(request_id=request_id, error=error)
    room_id = None
    if event == "send_msg" and data.get("type") != "flink":
        # A bad room_id leaves it None: handled alone by on_send_msg, which gives the error.
        with contextlib.suppress(InvalidInput):
            room_id = _room_id(data)
    return Frame(request_id=request_id, event=event, data=data, room_id=room_id)


class GatewayConsumer(AsyncWebsocketConsumer):
    # Pushes come through messenger.fanout's per-process hub, not a channel per socket.
    channel_layer_alias = "no-channel-layer"
    user: User | None = None
    kind: str = "web"
    sid: int | None = None
    presence_marked_at: float = float("-inf")
    writer: asyncio.Task | None = None
    # Runs while the inbox has frames and ends when it is empty: an idle socket holds no task.
    frame_worker: asyncio.Task | None = None
    # Set by the frame worker when a receive() waits for room in a full inbox.
    inbox_room: asyncio.Event | None = None
    # Set once the socket is disconnected (answers have nowhere to go) / once frames are no
    # longer taken (the account was refused, or handling failed).
    gone = False
    stopped = False

    @property
    def actor(self) -> User:
        """The authenticated user; only connections that passed connect() handle frames."""
        assert self.user is not None
        return self.user

    # --- connection life cycle ----------------------------------------------------------

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        self.connected_at = timezone.now()
        self.open_room_id: int | None = None
        # Whether the client's window has focus (the `focus` event); a fresh tab has it.
        self.focused = True
        subprotocol = SUBPROTOCOL if SUBPROTOCOL in (self.scope.get("subprotocols") or []) else None
        if self.user is None:
            await self.accept(subprotocol)
            await self.close(code=self.scope.get("auth_refusal") or 4001)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.lang = language_choose(
            wanted=(query.get("lang") or [""])[0],
            accept_language=_header(self.scope, b"accept-language"),
        )
        self.kind = (query.get("kind") or ["web"])[0]
        if self.kind not in KINDS:
            await self.accept(subprotocol)
            with translation.override(self.lang):
                message = str(_("kind must be web or mobile."))
            await self.send(
                _dumps({"ev": "error", "data": {"code": "invalid", "message": message}})
            )
            await self.close(code=CLOSE_BAD_REQUEST)
            self.user = None
            return
        self.conn_id = uuid.uuid4().hex
        self.user_pk = self.actor.pk
        # The signed-in session (device) whose token opened this socket: signing that device
        # out closes this socket and no other of the person's.
        self.sid = claimed_sid(self.scope.get("token_claims") or {})
        self.outbox: asyncio.Queue[str] = asyncio.Queue(int(settings.MESSENGER["SOCKET_QUEUE_MAX"]))
        # Pushes queued or being sent through ASGI; prepared writes wait until it is 0.
        self.unsent = 0
        extension = (self.scope.get("extensions") or {}).get(PREPARED_FRAMES) or {}
        self.write_prepared: Callable[[bytes], bool] | None = extension.get("write")
        self.tasks: set[asyncio.Task] = set()
        self.writer = None
        self.inbox: deque[Frame] = deque()
        self.hub = await Hub.running()
        self.hub.register(self)
        # A newer connection of the same kind replaces the older one, on whatever process.
        await areplace_sessions(self.actor.pk, self.kind, keep=self.conn_id)
        await self.accept(subprotocol)
        # Pushes that arrived while connecting wait in the outbox until the socket is open.
        self.writer = asyncio.create_task(self._write_outbox())
        self.presence_marked_at = time.monotonic()
        await self._went_online()

    async def disconnect(self, code: int) -> None:
        if self.user is None:
            return
        self.hub.unregister(self)
        if self.writer is not None:
            self.writer.cancel()
        # Frames received before the close are still handled, as they came; their answers
        # have nowhere to go.
        self.gone = True
        if self.frame_worker is not None:
            await self.frame_worker
        if shutdown.stopping():
            # The server is stopping and closing every socket at once: one INSERT for all of
            # them, presence left to the reconnect (messenger/gateway/shutdown.py).
            await shutdown.DisconnectRecords.of_running_loop().add(self._disconnect_entry(code))
            return
        await self._went_offline(code)

    # --- pushes from the fan-out hub ----------------------------------------------------------

    def deliver(self, push: Push | Pushes) -> None:
        """Write a push (or several in a row) at once where the server offers prepared frames
        and nothing is queued before it, else queue its frames; a socket too slow to drain its
        queue is closed (its client reconnects and catches up by seq), so one stuck client
        never holds memory or others."""
        if not self.unsent and self.write_prepared is not None and self.write_prepared(push.wire):
            return
        for text in push.texts:
            try:
                self.outbox.put_nowait(text)
            except asyncio.QueueFull:
                self._close_slow()
                return
            self.unsent += 1

    def _close_slow(self) -> None:
        logger.warning(
            "closing slow socket of user %s: %d frames queued", self.user_pk, self.outbox.qsize()
        )
        self.hub.unregister(self)
        # What it has not taken is of no use now (it catches up by seq after reconnecting):
        # free it at once rather than when the peer finally reads or the server gives up.
        while not self.outbox.empty():
            self.outbox.get_nowait()
        if self.writer is not None:
            self.writer.cancel()
        self._spawn(self._close_too_slow())

    def control(self, op: str, header: dict[str, Any]) -> None:
        if op == "replace":
            if header.get("k") == self.kind and header.get("keep") != self.conn_id:
                self.hub.unregister(self)
                self._spawn(self._replaced())
        elif op == "close":
            if "sid" in header and header["sid"] != self.sid:
                return
            if "keep_sid" in header and header["keep_sid"] == self.sid:
                return
            self.hub.unregister(self)
            self._spawn(self.close(code=int(header.get("code") or CLOSE_DISABLED)))

    def _spawn(self, coro: Any) -> None:
        # Keep a reference until done: the loop holds tasks only weakly.
        task = asyncio.get_running_loop().create_task(self._unless_gone(coro))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _unless_gone(self, coro: Any) -> None:
        """Run a send or close that may find the client gone: uvicorn then raises
        ClientDisconnected (an OSError) and there is nothing left to do. Left unretrieved, each
        was an error log line; a reconnect storm (each reconnect replacing a dead socket)
        wrote thousands."""
        try:
            await coro
        except OSError:
            logger.debug("socket of user %s was already gone", self.user_pk)

    async def _write_outbox(self) -> None:
        # OSError: the client has gone (ClientDisconnected); its disconnect follows.
        with contextlib.suppress(OSError):
            while True:
                text = await self.outbox.get()
                await self.send(text_data=text)
                # Counted down only once written: a frame taken from the queue but still
                # waiting for the transport keeps later pushes behind it, in order.
                self.unsent -= 1

    async def _close_too_slow(self) -> None:
        try:
            await self.close(code=CLOSE_TOO_SLOW)
        except RuntimeError:
            # The close frame waited behind unread frames and the server closed the socket
            # first (uvicorn: its keepalive ping went unanswered): it is closed either way.
            logger.info("slow socket of user %s was closed by the server first", self.user_pk)

    async def _replaced(self) -> None:
        await self.send(
            text_data=encode_frame(
                "session_replaced", {"message": "Replaced by a newer connection of this kind."}
            )
        )
        await self.close(code=CLOSE_REPLACED)

    @database_sync_to_async
    def _mark_online(self) -> tuple[list[str], list[int]] | None:
        """Record the connection; the presence to announce (kinds, audience) when this kind
        was not online before, else None. One hop to the database thread, which a reconnect
        storm keeps busy (docs/benchmarks.md, "Reconnect storm")."""
        was = presence.presence_kinds([self.actor.pk]).get(self.actor.pk, [])
        presence.presence_mark(user_pk=self.actor.pk, kind=self.kind, conn_id=self.conn_id)
        action_log_record(
            user=self.actor,
            work=ActionLog.Work.CONNECT,
            device=self.kind,
            started_at=self.connected_at,
        )
        if self.kind in was:
            return None
        kinds = [kind for kind in presence.KINDS if kind in was or kind == self.kind]
        return kinds, room_selectors.direct_peer_pks(user=self.actor)

    def _disconnect_entry(self, code: int) -> ActionLog:
        return action_log_build(
            user=self.actor,
            work=ActionLog.Work.DISCONNECT,
            device=self.kind,
            state=str(code or ""),
            started_at=self.connected_at,
            ended_at=timezone.now(),
        )

    @database_sync_to_async
    def _mark_offline(self, code: int) -> tuple[list[str], list[int]]:
        """Forget the connection; the presence to announce (kinds, audience). One hop."""
        presence.presence_clear(user_pk=self.actor.pk, kind=self.kind, conn_id=self.conn_id)
        presence.focus_clear(user_pk=self.actor.pk, kind=self.kind, conn_id=self.conn_id)
        self._disconnect_entry(code).save(force_insert=True)
        kinds = presence.presence_kinds([self.actor.pk]).get(self.actor.pk, [])
        return kinds, room_selectors.direct_peer_pks(user=self.actor)

    async def _went_online(self) -> None:
        state = await self._mark_online()
        if state is not None:
            await self._publish_presence(*state)

    async def _went_offline(self, code: int) -> None:
        await self._publish_presence(*await self._mark_offline(code))

    async def _publish_presence(self, kinds: list[str], audience: list[int]) -> None:
        data = {"user_id": self.actor.user_id, "online": bool(kinds), "kinds": kinds}
        await apublish_to_users([*audience, self.actor.pk], "presence", data)

    # --- client frames ----------------------------------------------------------------------

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its thread hop to close stale database connections
        before every frame: each database call of the gateway goes through
        database_sync_to_async, which closes them around the call anyway, and the extra hop
        was a fifth of the server's samples with 3,000 sockets sending a heartbeat every 5 s
        (docs/benchmarks.md, "Heartbeats")."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def _account_refusal(self, event: str) -> int | None:
        return await AccountChecks.of_running_loop().refusal(
            user_pk=self.user_pk,
            claims=self.scope.get("token_claims") or {},
            wait=AccountChecks.HEARTBEAT_WAIT if event == "alive" else 0,
        )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Check the frame and queue it for `_handle_frames`, which answers frames one at a
        time in the order they came. While the inbox is full the socket is not read (TCP
        holds the client back)."""
        if self.user is None or self.stopped:
            return
        while len(self.inbox) >= INBOX_MAX and not self.stopped:
            if self.inbox_room is None:
                self.inbox_room = asyncio.Event()
            await self.inbox_room.wait()
        if self.stopped:
            return
        self.inbox.append(_parse(text_data))
        if self.frame_worker is None:
            self.frame_worker = asyncio.create_task(self._handle_frames())

    def _take(self) -> list[Frame]:
        """The next frame, with the talk sends to the same room queued right behind it (at
        most SEND_BATCH_MAX in all)."""
        frame = self.inbox.popleft()
        batch = [frame]
        if frame.room_id is not None:
            while (
                self.inbox
                and len(batch) < SEND_BATCH_MAX
                and self.inbox[0].room_id == frame.room_id
            ):
                batch.append(self.inbox.popleft())
        if self.inbox_room is not None:
            self.inbox_room.set()
            self.inbox_room = None
        return batch

    async def _handle_frames(self) -> None:
        """Handle this socket's frames in order until none is left. Talk sends to one room
        that queued up while the frame before them was being handled are taken together:
        one account check, one transaction, one commit (messages.services.message_send_many).
        A lone frame is not held back to wait for others."""
        try:
            while self.inbox and not self.stopped:
                if not await self._handle(self._take()):
                    self.stopped = True
        except Exception:
            self.stopped = True
            if not self.gone:
                logger.exception("gateway frame handling failed for user %s", self.user_pk)
                with contextlib.suppress(OSError):
                    await self.close(code=CLOSE_INTERNAL)
        finally:
            self.frame_worker = None
            if self.stopped:
                # Frames that came after a refusal or a failure are dropped with the socket; a
                # receive() waiting for room in the inbox is let through.
                self.inbox.clear()
                if self.inbox_room is not None:
                    self.inbox_room.set()

    async def _handle(self, batch: list[Frame]) -> bool:
        """Answer a batch (one frame, or talk sends to one room); False once the socket is
        closed because the account was refused."""
        first = batch[0]
        if first.error is not None:
            await self._answer_all([_ack_text(first.request_id, first.error, self.lang)])
            return True
        results: list[Any]
        try:
            # Deactivation closes live sockets with 4003 through Redis, at most once: if that
            # close is lost, or the password changed since the token was issued, the account is
            # still checked before any frame is acted on (inside the try: an outage here is a
            # clear "unavailable" ack, not a dropped socket). Every frame of a batch arrived
            # before this check began.
            refusal = await self._account_refusal(first.event)
            if refusal is not None:
                logger.info(
                    "closing socket of user %s: account refused (%d)", self.user_pk, refusal
                )
                await self.close(code=refusal)
                return False
            if first.room_id is not None:
                talks = [_talk(f.data) for f in batch]
                results = await on_send_talks(self, first.room_id, talks)
            else:
                results = [await EVENTS[first.event](self, first.data)]
        except ApplicationError as error:
            results = [error] * len(batch)
        except Exception as exc:
            outage = as_outage(exc)
            if outage is not None:
                # The database or Redis is down: a clear "try again" on the open socket.
                results = [outage] * len(batch)
            else:
                logger.exception("gateway event failed for user %s", self.user_pk)
                results = [INTERNAL] * len(batch)
        await self._answer_all(
            [
                _ack_text(frame.request_id, result, self.lang)
                for frame, result in zip(batch, results, strict=True)
            ]
        )
        return True

    async def _answer_all(self, texts: list[str]) -> None:
        """Send acks in order. Those of a batch go in one write where the server offers
        prepared frames (a burst of 64 sends is answered with one system call instead of 64
        ASGI sends); otherwise, or when the transport is full, each through ASGI."""
        if self.gone:
            # Disconnected while its frames were handled: nobody to answer (the client
            # retries unacknowledged sends by msg_id after reconnecting).
            return
        if len(texts) > 1 and self.write_prepared is not None:
            acks = Pushes(tuple(Push(text.encode()) for text in texts))
            if self.write_prepared(acks.wire):
                return
        for text in texts:
            try:
                await self.send(text_data=text)
            except OSError:
                # The client went away (uvicorn's ClientDisconnected); its disconnect follows.
                self.gone = True
                return

    async def refresh_presence(self) -> None:
        now = time.monotonic()
        if now - self.presence_marked_at < PRESENCE_REFRESH_SECONDS:
            return
        self.presence_marked_at = now

        def mark() -> None:
            presence.presence_mark(user_pk=self.actor.pk, kind=self.kind, conn_id=self.conn_id)
            if self.open_room_id is not None:
                self._mark_focus()

        # Redis only: not queued behind the process's one database thread (and its
        # connection checks), where 8,000 sockets' heartbeats waited seconds for their acks.
        await sync_to_async(mark, thread_sensitive=False)()

    def _mark_focus(self) -> None:
        presence.focus_mark(
            user_pk=self.actor.pk,
            kind=self.kind,
            conn_id=self.conn_id,
            room_id=self.open_room_id,
            focused=self.focused,
        )

    async def set_view(self, *, room_id: int | None, focused: bool | None = None) -> None:
        """Record which room this connection shows and whether it has focus (any process
        reads it to keep notifications quiet for a room the person is looking at)."""
        self.open_room_id = room_id
        if focused is not None:
            self.focused = focused
        await database_sync_to_async(self._mark_focus)()


# --- event handlers: parse, call the service, return the ack's data -----------------------


def _room_id(data: dict[str, Any]) -> int:
    value = data.get("room_id")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput("room_id is required.")
    try:
        return int(value)
    except ValueError:
        raise InvalidInput("room_id must be a number.") from None


def _str_list(data: dict[str, Any], field: str) -> list[str]:
    value = data.get(field)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{field} must be a list of user ids.")
    return value


def _talk(data: dict[str, Any]) -> dict[str, Any]:
    """The fields of a talk send, as messages.services.message_send_many takes them."""
    return {
        "msg_id": data.get("msg_id"),
        "body": data.get("body"),
        "type": data.get("type") or "talk",
        "reply_to": data.get("reply_to"),
    }


async def on_send_talks(
    consumer: GatewayConsumer, room_id: int, sends: list[dict[str, Any]]
) -> list[dict[str, Any] | ApplicationError]:
    """Talk sends to one room, one or several (GatewayConsumer._handle_frames)."""
    return await on_worker_threads(message_services.message_send_many)(
        actor=consumer.actor, room_id=room_id, sends=sends
    )


async def on_send_msg(consumer: GatewayConsumer, data: dict[str, Any]) -> dict[str, Any]:
    """A send that is not a talk for on_send_talks: a file forward, or a bad room_id."""
    room_id = _room_id(data)
    if data.get("type") == "flink":
        # A forward of a stored file: the same service as POST /api/rooms/{id}/forward.
        payload, _created = await on_worker_threads(file_services.file_forward)(
            actor=consumer.actor,
            room_id=room_id,
            msg_id=data.get("msg_id"),
            source_msg_id=data.get("source_msg_id"),
        )
        return payload
    (result,) = await on_send_talks(consumer, room_id, [_talk(data)])
    if isinstance(result, ApplicationError):
        raise result
    return result


async def on_open_room(consumer: GatewayConsumer, data: dict[str, Any]) -> dict[str, Any]:
    room_id = _room_id(data)
    seq = await database_sync_to_async(message_services.room_open)(
        actor=consumer.actor, room_id=room_id
    )
    # Opening a room is done by a person looking at it: it has focus until `focus` says not.
    await consumer.set_view(room_id=room_id, focused=True)
    return {"room_id": room_id, "last_read_seq": seq}


async def on_close_room(consumer: GatewayConsumer, data: dict[str, Any]) -> dict[str, Any]:
    await consumer.set_view(room_id=None)
    return {}


async def on_focus(consumer: GatewayConsumer, data: dict[str, Any]) -> dict[str, Any]:
    focused = data.get("focused")
    if not isinstance(focused, bool):
        raise InvalidInput("focused must be true or false.")
    await consumer.set_view(room_id=consumer.open_room_id, focused=focused)
    return {"focused": focused}


async def on_read(consumer: GatewayConsumer, data: dict[str, Any]) -> dict[str, Any]:
    room_id = _room_id(data)
    seq = await database_sync_to_async(message_services.room_read)(
        actor=consumer.actor, room_id=room_id, seq=data.get("seq")
    )
    return {"room_id": room_id, "last_read_seq": seq}


async def on_typing(consumer: GatewayConsumer, data: dict[str, Any]) -> dict[str, Any]:
    room_id = _room_id(data)

    def audience() -> list[int]:
        member = room_selectors.membership_get(user=consumer.actor, room_id=room_id)
        rate_limit_hit(scope="typing", key=f"{consumer.actor.pk}:{member.room_id}")
        return [
            pk
            for pk in room_selectors.room_member_user_pks(room_id=member.room_id)
            if pk != consumer.actor.pk
        ]

    others = await database_sync_to_async(audience)()
    await apublish_to_users(
        others, "typing", {"room_id": room_id, "user_id": consumer.actor.user_id}
    )
    return {}


async def on_create_room(consumer: GatewayConsumer, data: dict[str, Any]) -> dict[str, Any]:
    name = data.get("name") or ""
    if not isinstance(name, str):
        raise InvalidInput("name must be text.")

    def create() -> dict[str, Any]:
        room, created = message_services.room_create(
            actor=consumer.actor, member_ids=_str_list(data, "member_ids"), name=name
        )
        member = room_selectors.membership_get(user=consumer.actor, room_id=room.pk)
        return room_selectors.room_summary_for(member=member) | {"created": created}

    return await database_sync_to_async(create)()


async def on_invite(consumer: GatewayConsumer, data: dict[str, Any]) -> dict[str, Any]:
    def invite() -> dict[str, Any]:
        room, message = message_services.room_invite(
            actor=consumer.actor, room_id=_room_id(data), user_ids=_str_list(data, "user_ids")
        )
        member = room_selectors.membership_get(user=consumer.actor, room_id=room.pk)
        return {"room": room_selectors.room_summary_for(member=member), "message": message}

    return await database_sync_to_async(invite)()


async def on_leave(consumer: GatewayConsumer, data: dict[str, Any]) -> dict[str, Any]:
    room_id = _room_id(data)
    await database_sync_to_async(message_services.room_leave)(actor=consumer.actor, room_id=room_id)
    if consumer.open_room_id == room_id:
        await consumer.set_view(room_id=None)
    return {"room_id": room_id}


async def on_alive(consumer: GatewayConsumer, data: dict[str, Any]) -> dict[str, Any]:
    await consumer.refresh_presence()
    return {"server_time": timezone.now()}


EVENTS: dict[str, Handler] = {
    "send_msg": on_send_msg,
    "open_room": on_open_room,
    "close_room": on_close_room,
    "focus": on_focus,
    "read": on_read,
    "typing": on_typing,
    "create_room": on_create_room,
    "invite": on_invite,
    "leave": on_leave,
    "alive": on_alive,
}
