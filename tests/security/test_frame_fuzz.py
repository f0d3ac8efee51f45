"""The WebSocket gateway fuzzed with hypothesis, in-process through WebsocketCommunicator.

Junk text, JSON that is not an object, wrong types for every field of every event of the
consumer's EVENTS table (the fields are read from the handlers' code, so a new event or field
is fuzzed without touching this file), unknown events, binary, huge frames and floods. Every
frame must get one error or ok ack with a clear code and message; never `internal` (an
unhandled exception), never silence (a stuck consumer). Afterwards the fuzzing connection still
answers, and another member of the same room still receives messages.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import logging
import math
import os
import textwrap
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filetransfer import services as file_services
from messages import services as message_services
from messages.models import Message
from messenger.errors import ApplicationError
from messenger.gateway import consumer as consumer_module
from messenger.gateway.consumer import EVENTS, REQUEST_ID_MAX
from orgsync.models import User
from tests.conftest import send
from tests.gateway.conftest import Client, connect
from tests.security.test_api_fuzz import png

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize="FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=list(HealthCheck),
)


def _error_codes(cls: type[ApplicationError]) -> set[str]:
    return {cls.code}.union(*(_error_codes(sub) for sub in cls.__subclasses__()))


# Codes the gateway may answer a bad frame with: those of the typed errors. The gateway's
# `internal` means an exception escaped a handler.
ERROR_CODES = _error_codes(ApplicationError)


# --- the fields each event reads, from its handler's code --------------------------------------


def _module_functions() -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    tree = ast.parse(inspect.getsource(consumer_module))
    return {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _is_data(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "data"


def _fields_read(
    node: ast.AST, functions: dict[str, Any], seen: set[str] | None = None
) -> set[str]:
    """String keys a function reads from `data`: data.get("k"), data["k"], and the string
    arguments of module functions `data` is handed to (such as _str_list(data, "user_ids")),
    following those functions."""
    seen = seen if seen is not None else set()
    found: set[str] = set()
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Subscript)
            and _is_data(sub.value)
            and isinstance(sub.slice, ast.Constant)
            and isinstance(sub.slice.value, str)
        ):
            found.add(sub.slice.value)
        if not isinstance(sub, ast.Call):
            continue
        func = sub.func
        if isinstance(func, ast.Attribute) and func.attr == "get" and _is_data(func.value):
            if sub.args and isinstance(sub.args[0], ast.Constant):
                found.add(sub.args[0].value)
        elif isinstance(func, ast.Name) and any(_is_data(a) for a in sub.args):
            found.update(
                a.value
                for a in sub.args
                if isinstance(a, ast.Constant) and isinstance(a.value, str)
            )
            if func.id in functions and func.id not in seen:
                seen.add(func.id)
                found |= _fields_read(functions[func.id], functions, seen)
    return found


def event_fields() -> dict[str, list[str]]:
    functions = _module_functions()
    fields = {}
    for event, handler in EVENTS.items():
        tree = ast.parse(textwrap.dedent(inspect.getsource(handler)))
        fields[event] = sorted(_fields_read(tree, functions))
    return fields


FIELDS = event_fields()


def test_error_codes_are_the_typed_errors_not_internal():
    assert {"invalid", "unknown_event", "too_large", "not_found", "expired"} <= ERROR_CODES
    assert "internal" not in ERROR_CODES


def test_event_fields_are_read_from_the_handlers():
    """The extraction itself can fail: pin what it must find in today's handlers."""
    assert set(FIELDS) == set(EVENTS)
    assert {"room_id", "msg_id", "body", "type", "reply_to", "source_msg_id"} <= set(
        FIELDS["send_msg"]
    )
    assert {"member_ids", "name"} <= set(FIELDS["create_room"])
    assert {"room_id", "user_ids"} <= set(FIELDS["invite"])
    assert {"room_id", "seq"} <= set(FIELDS["read"])
    assert FIELDS["focus"] == ["focused"]


# --- values ---------------------------------------------------------------------------------------

# Wrong (or edge) values of every JSON type, for any field.
WRONG_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    -(2**80),
    1.5,
    math.nan,
    math.inf,
    "",
    "x",
    " 1 ",
    "\x00",
    "\ud800",
    "가" * 5000,
    [],
    ["a", 1],
    [None],
    {},
    {"a": {"b": []}},
]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**62, max_value=2**90)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.text(alphabet=st.characters(codec=None, categories=["Cs", "Cc", "Lo"]), max_size=10)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@dataclass
class Scene:
    alice: User
    bob: User
    carol: User
    group_id: int
    direct_id: int
    own_id: int
    file_msg_id: str
    talk_msg_id: str
    alice_ws: Client | None = None
    bob_ws: Client | None = None
    counter: int = 0
    acks: dict[str, int] = field(default_factory=dict)

    def room_ids(self) -> list[int]:
        return [self.group_id, self.direct_id, self.own_id, 0, 987654321]

    def plausible(self, name: str) -> st.SearchStrategy[Any]:
        """Values of the right type (some valid, some not) for fields of the protocol."""
        user_ids = st.sampled_from(["alice", "bob", "carol", "dave", "nobody", ""])
        msg_ids = st.sampled_from([self.file_msg_id, self.talk_msg_id]) | st.uuids().map(str)
        by_name: dict[str, st.SearchStrategy[Any]] = {
            "room_id": st.sampled_from(self.room_ids()) | st.sampled_from(self.room_ids()).map(str),
            "msg_id": msg_ids,
            "source_msg_id": msg_ids,
            "reply_to": msg_ids | st.none(),
            "body": st.text(max_size=200),
            "type": st.sampled_from(["talk", "flink", "file", "image", "system", "invite"]),
            "seq": st.integers(min_value=-5, max_value=10**12),
            "focused": st.booleans(),
            "name": st.text(max_size=120),
            "member_ids": st.lists(user_ids, max_size=4),
            "user_ids": st.lists(user_ids, max_size=4),
        }
        return by_name.get(name, st.nothing())

    def baseline(self, name: str) -> Any:
        """A valid value for a field, so that a frame's other fields are what gets tested."""
        return {
            "room_id": self.own_id,
            "msg_id": str(uuid.uuid4()),
            "source_msg_id": self.file_msg_id,
            "reply_to": None,
            "body": "fuzz",
            "type": "talk",
            "seq": 1,
            "focused": True,
            "name": "fuzz",
            "member_ids": ["bob"],
            "user_ids": ["carol"],
        }.get(name, "x")


def build_scene(alice: User, bob: User, carol: User, dave: User) -> Scene:
    group, _ = message_services.room_create(actor=alice, member_ids=["bob", "carol"], name="g")
    direct, _ = message_services.room_open_direct(actor=alice, peer=bob)
    # The room most fuzzed frames aim at: Alice's with Dave and Erin, who are not connected.
    own, _ = message_services.room_create(actor=alice, member_ids=["dave", "erin"], name="fuzz")
    files, _ = file_services.files_upload(
        actor=alice,
        room_id=group.pk,
        files=[SimpleUploadedFile("a.png", png())],
        msg_ids=[str(uuid.uuid4())],
    )
    talk = send(bob, group.pk, "hello")
    return Scene(
        alice=alice,
        bob=bob,
        carol=carol,
        group_id=group.pk,
        direct_id=direct.pk,
        own_id=own.pk,
        file_msg_id=files[0]["msg_id"],
        talk_msg_id=talk["msg_id"],
    )


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    """One event loop for the whole test: the sockets stay open across hypothesis examples."""
    with asyncio.Runner() as loop_runner:
        yield loop_runner


@pytest.fixture
def scene(runner, settings, tmp_path, alice, bob, carol, dave, make_user) -> Iterator[Scene]:
    settings.MEDIA_ROOT = tmp_path / "media"
    make_user(user_id="erin")
    built = build_scene(alice, bob, carol, dave)
    built.alice_ws = runner.run(connect(alice))
    built.bob_ws = runner.run(connect(bob))
    yield built
    runner.run(built.alice_ws.ws.disconnect())
    runner.run(built.bob_ws.ws.disconnect())


@pytest.fixture
def no_internal_errors(caplog):
    """The gateway logs an exception that escaped a handler: there must be none."""
    caplog.set_level(logging.ERROR, logger="messenger.gateway.consumer")
    yield
    escaped = [r for r in caplog.records if r.name == "messenger.gateway.consumer"]
    assert not escaped, [r.getMessage() for r in escaped]


# --- one exchange ---------------------------------------------------------------------------------


async def next_ack(client: Client, timeout: float = 10) -> dict[str, Any]:
    """The next ack, keeping pushes aside (a stuck consumer fails here by timing out)."""
    while True:
        frame = json.loads(await client.ws.receive_from(timeout))
        if "ack" in frame:
            return frame
        client.pushes.append(frame)


def check_ack(ack: dict[str, Any], sent_id: Any = None) -> None:
    assert ack["ack"] in (sent_id, None), ack
    assert isinstance(ack["ok"], bool), ack
    if not ack["ok"]:
        error = ack["error"]
        assert error["code"] in ERROR_CODES, ack
        assert isinstance(error["message"], str) and error["message"], ack


async def exchange(scene: Scene, *, text: str | None = None, data: bytes | None = None) -> dict:
    assert scene.alice_ws is not None
    # send_input, not send_to: send_to refuses an empty frame, which a client can send.
    if text is not None:
        await scene.alice_ws.ws.send_input({"type": "websocket.receive", "text": text})
    else:
        await scene.alice_ws.ws.send_input({"type": "websocket.receive", "bytes": data})
    ack = await next_ack(scene.alice_ws)
    scene.alice_ws.pushes.clear()
    return ack


def request_frame(scene: Scene, event: str, data: Any) -> tuple[str, str]:
    scene.counter += 1
    request_id = f"f{scene.counter}"
    return request_id, json.dumps({"id": request_id, "ev": event, "data": data})


async def others_still_receive(scene: Scene) -> None:
    """Carol sends to the group through her own socket; Bob gets it, and Alice's socket still
    answers."""
    assert scene.alice_ws is not None and scene.bob_ws is not None
    carol_ws = await connect(scene.carol)
    try:
        msg_id = str(uuid.uuid4())
        ack = await carol_ws.request(
            "send_msg", {"room_id": scene.group_id, "msg_id": msg_id, "body": "still here?"}
        )
        assert ack["ok"] is True, ack
        while True:
            push = await scene.bob_ws.push("message", timeout=10)
            if push["data"]["msg_id"] == msg_id:
                break
        alive = await scene.alice_ws.request("alive", timeout=10)
        assert alive["ok"] is True, alive
    finally:
        await carol_ws.ws.disconnect()


def run(runner: asyncio.Runner, coro: Coroutine[Any, Any, Any]) -> Any:
    return runner.run(coro)


# --- tests ----------------------------------------------------------------------------------------


def test_frames_of_junk_text_and_json_that_is_not_a_frame(runner, scene, no_internal_errors):
    # Raw lone surrogates cannot come through a real server (it decodes UTF-8 strictly and
    # closes on bad bytes), but the consumer must not depend on that.
    raw = st.text(alphabet=st.characters(codec=None, categories=["Cs"]), min_size=1, max_size=5)
    frames = (
        st.text(max_size=200)
        | raw
        | raw.map(lambda junk: json.dumps({"id": "s", "ev": "alive"})[:-1] + junk + "}")
        | json_values.map(json.dumps)
        | st.dictionaries(
            st.sampled_from(["id", "ev", "data"]) | st.text(max_size=5), json_values, max_size=4
        ).map(json.dumps)
    )

    @FUZZ_SETTINGS
    @given(text=frames)
    def one(text: str) -> None:
        check_ack(run(runner, exchange(scene, text=text)), sent_id=_id_of(text))

    one()
    run(runner, others_still_receive(scene))


def _id_of(text: str) -> Any:
    try:
        frame = json.loads(text)
    except ValueError:
        return None
    return frame.get("id") if isinstance(frame, dict) else None


def test_frames_with_bad_id_ev_or_data(runner, scene, no_internal_errors):
    ids = json_values | st.text(min_size=REQUEST_ID_MAX - 1, max_size=REQUEST_ID_MAX + 2)
    events = st.sampled_from(sorted(EVENTS)) | json_values

    @FUZZ_SETTINGS
    @given(request_id=ids, event=events, data=json_values)
    def one(request_id: Any, event: Any, data: Any) -> None:
        text = json.dumps({"id": request_id, "ev": event, "data": data})
        ack = run(runner, exchange(scene, text=text))
        check_ack(ack, sent_id=request_id)
        if not isinstance(event, str) or event not in EVENTS:
            assert ack["ok"] is False

    one()
    run(runner, others_still_receive(scene))


@pytest.mark.parametrize("event", sorted(EVENTS))
def test_every_field_of_every_event_with_wrong_types(runner, scene, no_internal_errors, event):
    """Each field in turn gets each wrong value, the other fields valid; then hypothesis mixes
    plausible and junk values of all the fields, and unknown extra fields."""

    def valid() -> dict[str, Any]:
        return {name: scene.baseline(name) for name in FIELDS[event]}

    for name in FIELDS[event]:
        for wrong in WRONG_VALUES:
            request_id, text = request_frame(scene, event, {**valid(), name: wrong})
            ack = run(runner, exchange(scene, text=text))
            check_ack(ack, sent_id=request_id)
            scene.acks[event] = scene.acks.get(event, 0) + 1

    values = {name: scene.plausible(name) | json_values for name in FIELDS[event]}
    extra = st.dictionaries(st.text(max_size=8), json_values, max_size=2)

    @FUZZ_SETTINGS
    @given(data=st.fixed_dictionaries({}, optional=values), more=extra)
    def one(data: dict[str, Any], more: dict[str, Any]) -> None:
        request_id, text = request_frame(scene, event, {**more, **data})
        check_ack(run(runner, exchange(scene, text=text)), sent_id=request_id)

    one()
    run(runner, others_still_receive(scene))


def test_binary_frames_are_refused(runner, scene, no_internal_errors):
    @FUZZ_SETTINGS
    @given(data=st.binary(max_size=300))
    def one(data: bytes) -> None:
        ack = run(runner, exchange(scene, data=data))
        check_ack(ack)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid"

    one()
    run(runner, others_still_receive(scene))


@pytest.mark.parametrize("factor", [1, 16, 256])
def test_huge_frames_are_refused_with_too_large(runner, scene, no_internal_errors, factor):
    """Well above the gateway's limit (256 x 64 KiB = 16 MiB, uvicorn's default maximum):
    refused with a too_large error ack, nothing stored, and the connection goes on."""
    limit = django_settings.MESSENGER["WS_FRAME_MAX_BYTES"]
    body = "가" * (limit * factor // 3 + 1)
    _request_id, text = request_frame(
        scene, "send_msg", {"room_id": scene.group_id, "msg_id": str(uuid.uuid4()), "body": body}
    )
    assert len(text.encode()) > limit * factor
    before = run(runner, sync_to_async(_message_count)())
    ack = run(runner, exchange(scene, text=text))
    check_ack(ack)
    assert ack["ok"] is False and ack["error"]["code"] == "too_large"
    assert str(limit) in ack["error"]["message"]
    assert run(runner, sync_to_async(_message_count)()) == before
    run(runner, others_still_receive(scene))


def _message_count() -> int:
    return Message.objects.count()


def test_flood_of_frames_gets_every_ack_in_order(runner, scene, no_internal_errors):
    """Frames sent without waiting for acks: each gets its ack, in order, and others still
    receive."""
    count = 600
    junk = ["nonsense", "[]", '{"id": "j", "ev": "nope"}', json.dumps({"id": "a", "ev": "alive"})]

    async def flood() -> list[dict[str, Any]]:
        assert scene.alice_ws is not None
        for i in range(count):
            await scene.alice_ws.ws.send_to(text_data=junk[i % len(junk)])
        return [await next_ack(scene.alice_ws, timeout=30) for _ in range(count)]

    acks = run(runner, flood())
    expected = [None, None, "j", "a"]
    assert [ack["ack"] for ack in acks] == [expected[i % len(junk)] for i in range(count)]
    for ack in acks:
        check_ack(ack, sent_id=ack["ack"])
    run(runner, others_still_receive(scene))


def test_flood_of_messages_reaches_the_other_member(runner, scene, no_internal_errors):
    """A burst of send_msg frames: each is acked (stored, or refused as rate limited) and the
    other member receives every stored one."""
    count = 100

    async def burst() -> tuple[list[dict[str, Any]], list[str]]:
        assert scene.alice_ws is not None and scene.bob_ws is not None
        ids = [str(uuid.uuid4()) for _ in range(count)]
        for msg_id in ids:
            frame = {"room_id": scene.direct_id, "msg_id": msg_id, "body": "burst"}
            await scene.alice_ws.ws.send_to(
                text_data=json.dumps({"id": msg_id, "ev": "send_msg", "data": frame})
            )
        acks = [await next_ack(scene.alice_ws, timeout=30) for _ in range(count)]
        stored = [a["ack"] for a in acks if a["ok"]]
        received = []
        while len(received) < len(stored):
            push = await scene.bob_ws.push("message", timeout=10)
            received.append(push["data"]["msg_id"])
        return acks, [a for a in stored if a not in received]

    acks, missed = run(runner, burst())
    for ack in acks:
        check_ack(ack, sent_id=ack["ack"])
    assert any(ack["ok"] for ack in acks)
    assert missed == []
