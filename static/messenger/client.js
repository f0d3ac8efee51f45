// The browser client: log in, my rooms, one open room, and one WebSocket for live pushes.
//
// Everything people write (names, bodies, room names) reaches the page through textContent or
// text nodes, never innerHTML. Delivery rests on seq, not on the socket: after every (re)connect
// the room list and the open room's newer messages are fetched again, and messages are merged
// by msg_id so nothing shows twice.

const TOKENS_KEY = "messenger.tokens";
const PAGE_SIZE = 50;
const CATCH_UP_PAGE = 200;
const ALIVE_MS = 25_000;
const ACK_TIMEOUT_MS = 15_000;
const TYPING_SEND_MS = 3_000;
const TYPING_SHOW_MS = 4_000;
const MAX_BACKOFF_MS = 30_000;
const SYSTEM_TYPES = new Set(["invite", "leave", "notice"]);
const CLOSE_BAD_TOKEN = 4001;
const CLOSE_REPLACED = 4002;
const CLOSE_DISABLED = 4003;
const CLOSE_BAD_REQUEST = 4000;

const $ = (id) => document.getElementById(id);

// --- small DOM helpers: text only ------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "className") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const URL_RE = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;

// A message body as text nodes, with http(s) links made clickable (href checked, never markup).
function bodyNodes(text) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    let href = null;
    try {
      const url = new URL(match[0]);
      if (url.protocol === "http:" || url.protocol === "https:") href = url.href;
    } catch {
      href = null;
    }
    if (!href) continue;
    if (match.index > last) nodes.push(document.createTextNode(text.slice(last, match.index)));
    nodes.push(el("a", { href, target: "_blank", rel: "noopener noreferrer", text: match[0] }));
    last = match.index + match[0].length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

// --- time --------------------------------------------------------------------------------------

const fmtClock = new Intl.DateTimeFormat("ko-KR", { hour: "numeric", minute: "2-digit" });
const fmtDay = new Intl.DateTimeFormat("ko-KR", {
  year: "numeric",
  month: "long",
  day: "numeric",
  weekday: "long",
});
const fmtMonthDay = new Intl.DateTimeFormat("ko-KR", { month: "long", day: "numeric" });
const fmtFullDate = new Intl.DateTimeFormat("ko-KR", {
  year: "numeric",
  month: "numeric",
  day: "numeric",
});

const dayKey = (date) => `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;

function listTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const now = new Date();
  if (dayKey(date) === dayKey(now)) return fmtClock.format(date);
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (dayKey(date) === dayKey(yesterday)) return "어제";
  if (date.getFullYear() === now.getFullYear()) return fmtMonthDay.format(date);
  return fmtFullDate.format(date);
}

// --- ids ---------------------------------------------------------------------------------------

// crypto.randomUUID exists only in secure contexts; an intranet server on plain http is not one.
function newUuid() {
  if (globalThis.crypto?.randomUUID) {
    try {
      return crypto.randomUUID();
    } catch {
      // fall through to getRandomValues
    }
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  const parts = [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20)];
  return `${parts.join("-")}-${hex.slice(20)}`;
}

// --- avatars -----------------------------------------------------------------------------------

const AVATAR_COLORS = [
  "#5b8def",
  "#f0877b",
  "#50b59a",
  "#b084e0",
  "#f2a93b",
  "#4fb0c6",
  "#e27aa8",
  "#7d8ca3",
];
const HANGUL = /^[\uac00-\ud7a3]+$/;

function initials(name) {
  const clean = (name || "?").trim();
  // Korean names: the given name (last two syllables) is what colleagues call each other.
  if (HANGUL.test(clean) && clean.length >= 3) return clean.slice(-2);
  if (HANGUL.test(clean)) return clean;
  const words = clean.split(/\s+/).filter(Boolean);
  return words.slice(0, 2).map((w) => [...w][0].toUpperCase()).join("") || "?";
}

function colorFor(key) {
  let hash = 0;
  for (const ch of String(key)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return AVATAR_COLORS[hash % AVATAR_COLORS.length];
}

function fillAvatar(node, name, key) {
  node.textContent = initials(name);
  node.style.backgroundColor = colorFor(key || name);
  node.dataset.len = String(node.textContent.length);
}

// --- tokens and REST ---------------------------------------------------------------------------

const tokens = {
  load() {
    try {
      return JSON.parse(sessionStorage.getItem(TOKENS_KEY)) || {};
    } catch {
      return {};
    }
  },
  get access() {
    return this.load().access || null;
  },
  get refresh() {
    return this.load().refresh || null;
  },
  save(values) {
    sessionStorage.setItem(TOKENS_KEY, JSON.stringify({ ...this.load(), ...values }));
  },
  clear() {
    sessionStorage.removeItem(TOKENS_KEY);
  },
};

class ApiError extends Error {
  constructor(status, code, message, detail) {
    super(message);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

const NETWORK_CODES = new Set(["network", "offline", "timeout"]);

async function readError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body?.error || {};
  return new ApiError(
    response.status,
    error.code || `http_${response.status}`,
    error.message || `서버 오류 (${response.status})`,
    error.detail,
  );
}

async function rawFetch(method, path, body, access) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (access) headers.Authorization = `Bearer ${access}`;
  try {
    return await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, "network", "서버에 연결할 수 없습니다.");
  }
}

let refreshing = null;

// One refresh at a time, shared by every caller: "ok", "invalid" (log in again) or "network".
function refreshAccess() {
  if (!refreshing) {
    refreshing = (async () => {
      const refresh = tokens.refresh;
      if (!refresh) return "invalid";
      let response;
      try {
        response = await rawFetch("POST", "/api/auth/token/refresh", { refresh });
      } catch {
        return "network";
      }
      if (!response.ok) return response.status >= 500 ? "network" : "invalid";
      const data = await response.json();
      tokens.save({ access: data.access, ...(data.refresh ? { refresh: data.refresh } : {}) });
      return "ok";
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function api(method, path, body) {
  let response = await rawFetch(method, path, body, tokens.access);
  if (response.status === 401) {
    const outcome = await refreshAccess();
    if (outcome === "network") throw new ApiError(0, "network", "서버에 연결할 수 없습니다.");
    if (outcome === "ok") response = await rawFetch(method, path, body, tokens.access);
    if (outcome === "invalid" || response.status === 401) {
      logout("로그인이 만료되었습니다. 다시 로그인하세요.");
      throw new ApiError(401, "not_authenticated", "로그인이 만료되었습니다.");
    }
  }
  if (!response.ok) throw await readError(response);
  if (response.status === 204) return null;
  return response.json();
}

function tokenExpiresWithin(ms) {
  const access = tokens.access;
  if (!access) return true;
  try {
    const part = access.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const payload = JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
    return !payload.exp || payload.exp * 1000 < Date.now() + ms;
  } catch {
    return true;
  }
}

// --- state -------------------------------------------------------------------------------------

const state = {
  me: null,
  rooms: new Map(), // room_id -> summary as in GET /api/rooms
  chat: null, // the open room, see newChat()
  outbox: new Map(), // msg_id -> message not yet acknowledged, of any room
  drafts: new Map(), // room_id -> unsent composer text
  localOrder: 0,
};

function newChat(roomId) {
  return {
    roomId,
    messages: new Map(), // msg_id -> message
    members: null, // user_id -> {name, org_name}; null until GET /api/rooms/{id} answers
    marks: new Map(), // user_id -> last_read_seq (never lowered)
    hasMore: false,
    loaded: false,
    loadingOlder: false,
    typing: new Map(), // user_id -> timer
  };
}

const isMine = (msg) => state.me && msg.sender === state.me.user_id;

// --- WebSocket -------------------------------------------------------------------------------

const sock = {
  ws: null,
  nextId: 0,
  pending: new Map(),
  aliveTimer: null,
  retryTimer: null,
  attempts: 0,
  badTokens: 0,
  stopped: true,
};

function setConn(kind, text) {
  const banner = $("conn-banner");
  banner.dataset.state = kind;
  banner.hidden = kind === "online" || kind === "connecting";
  $("conn-text").textContent = text || "";
  $("conn-retry").hidden = kind !== "replaced";
  document.body.dataset.conn = kind;
  const usable = kind === "online" || kind === "connecting" || kind === "offline";
  $("composer-input").disabled = !usable;
  $("send-btn").disabled = !usable;
}

async function connectSocket() {
  clearTimeout(sock.retryTimer);
  sock.retryTimer = null;
  sock.stopped = false;
  if (sock.ws) return;
  if (tokenExpiresWithin(10_000)) {
    const outcome = await refreshAccess();
    if (outcome === "invalid") {
      logout("로그인이 만료되었습니다. 다시 로그인하세요.");
      return;
    }
    if (sock.stopped || sock.ws) return;
  }
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const token = encodeURIComponent(tokens.access || "");
  const url = `${scheme}//${location.host}/ws/?kind=web&token=${token}`;
  const ws = new WebSocket(url);
  sock.ws = ws;
  ws.addEventListener("open", () => {
    if (sock.ws !== ws) return;
    startAlive();
    onSocketOpen();
  });
  ws.addEventListener("message", (event) => {
    if (sock.ws === ws) handleFrame(event.data);
  });
  ws.addEventListener("close", (event) => {
    if (sock.ws !== ws) return;
    sock.ws = null;
    stopAlive();
    for (const { reject, timer } of sock.pending.values()) {
      clearTimeout(timer);
      reject(new ApiError(0, "offline", "연결이 끊어졌습니다."));
    }
    sock.pending.clear();
    onSocketClose(event.code);
  });
}

function disconnectSocket() {
  sock.stopped = true;
  clearTimeout(sock.retryTimer);
  stopAlive();
  const ws = sock.ws;
  sock.ws = null;
  if (ws) ws.close(1000, "bye");
}

function scheduleReconnect(delay) {
  if (sock.stopped) return;
  const ceiling = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** sock.attempts);
  sock.attempts += 1;
  const wait = delay ?? ceiling / 2 + Math.random() * (ceiling / 2);
  clearTimeout(sock.retryTimer);
  sock.retryTimer = setTimeout(connectSocket, wait);
}

function onSocketClose(code) {
  if (sock.stopped) return;
  if (code === CLOSE_REPLACED) {
    sock.stopped = true;
    setConn("replaced", "다른 창에서 메신저를 열어 이 창의 연결이 끊겼습니다.");
    return;
  }
  if (code === CLOSE_DISABLED) {
    logout("계정이 사용 중지되었습니다. 관리자에게 문의하세요.");
    return;
  }
  if (code === CLOSE_BAD_REQUEST) {
    sock.stopped = true;
    setConn("failed", "서버가 연결을 거부했습니다. 새로 고침해 주세요.");
    return;
  }
  setConn("offline", "연결이 끊어졌습니다. 다시 연결하는 중…");
  if (code === CLOSE_BAD_TOKEN) {
    sock.badTokens += 1;
    if (sock.badTokens > 2) {
      logout("로그인이 만료되었습니다. 다시 로그인하세요.");
      return;
    }
    refreshAccess().then((outcome) => {
      if (outcome === "invalid") logout("로그인이 만료되었습니다. 다시 로그인하세요.");
      else scheduleReconnect(outcome === "ok" ? 0 : undefined);
    });
    return;
  }
  scheduleReconnect();
}

function startAlive() {
  stopAlive();
  sock.aliveTimer = setInterval(() => {
    wsRequest("alive", {}).catch(() => {});
  }, ALIVE_MS);
}

function stopAlive() {
  clearInterval(sock.aliveTimer);
  sock.aliveTimer = null;
}

function wsRequest(ev, data) {
  return new Promise((resolve, reject) => {
    const ws = sock.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      reject(new ApiError(0, "offline", "연결이 끊어져 있습니다."));
      return;
    }
    sock.nextId += 1;
    const id = `r${sock.nextId}`;
    const timer = setTimeout(() => {
      sock.pending.delete(id);
      reject(new ApiError(0, "timeout", "서버가 응답하지 않습니다."));
    }, ACK_TIMEOUT_MS);
    sock.pending.set(id, { resolve, reject, timer });
    ws.send(JSON.stringify({ id, ev, data }));
  });
}

function handleFrame(text) {
  let frame;
  try {
    frame = JSON.parse(text);
  } catch {
    return;
  }
  if (frame === null || typeof frame !== "object") return;
  if ("ack" in frame) {
    const waiter = sock.pending.get(frame.ack);
    if (!waiter) return;
    sock.pending.delete(frame.ack);
    clearTimeout(waiter.timer);
    if (frame.ok) waiter.resolve(frame.data || {});
    else {
      const error = frame.error || {};
      waiter.reject(new ApiError(0, error.code || "error", error.message || "요청이 실패했습니다."));
    }
    return;
  }
  // An explicit table of the pushes this page understands; anything else is ignored.
  if (typeof frame.ev !== "string" || !Object.hasOwn(PUSHES, frame.ev)) return;
  if (frame.data && typeof frame.data === "object") PUSHES[frame.ev](frame.data);
}

// After every (re)connect: say which room I look at, then catch up from the database.
async function onSocketOpen() {
  try {
    await wsRequest("alive", {});
  } catch {
    return; // closed again at once (bad token, replaced): the close handler decides
  }
  sock.attempts = 0;
  sock.badTokens = 0;
  setConn("online");
  const chat = state.chat;
  if (chat) announceOpen(chat);
  await Promise.allSettled([loadRooms(), chat ? catchUp(chat) : null]);
  for (const msg of state.outbox.values()) if (!msg.failed) trySend(msg);
}

// --- pushes ------------------------------------------------------------------------------------

const PUSHES = {
  message: onPushMessage,
  message_updated: onPushMessageUpdated,
  read: onPushRead,
  room_updated: onPushRoomUpdated,
  room_removed: onPushRoomRemoved,
  typing: onPushTyping,
};

function onPushMessage(msg) {
  noteMessageInList(msg);
  const chat = state.chat;
  if (!chat || chat.roomId !== msg.room_id) return;
  mergeMessages(chat, [msg]);
  clearTyping(chat, msg.sender);
  renderMessages();
  if (!isMine(msg) && document.visibilityState === "visible") markRead(chat);
  if (msg.type === "invite" || msg.type === "leave") loadMembers(chat).catch(() => {});
}

function onPushMessageUpdated(data) {
  const room = state.rooms.get(data.room_id);
  if (room?.last_message && room.last_message.seq === data.seq) {
    room.last_message.state = data.state;
    if (data.state === "cancelled") room.last_message.body = "";
    renderRooms();
  }
  const chat = state.chat;
  const msg = chat && chat.roomId === data.room_id ? chat.messages.get(data.msg_id) : null;
  if (msg) {
    msg.state = data.state;
    if (data.state === "cancelled") msg.body = "";
    renderMessages();
  }
}

function onPushRead({ room_id: roomId, user_id: userId, seq }) {
  const room = state.rooms.get(roomId);
  if (room && state.me && userId === state.me.user_id && seq > room.last_read_seq) {
    room.last_read_seq = seq;
    room.unread = Math.max(room.last_seq - seq, 0);
    renderRooms();
  }
  const chat = state.chat;
  if (chat && chat.roomId === roomId) {
    raiseMark(chat, userId, seq);
    updateUnreadCounts();
  }
}

function onPushRoomUpdated(room) {
  const before = state.rooms.get(room.room_id);
  state.rooms.set(room.room_id, room);
  renderRooms();
  const chat = state.chat;
  if (chat && chat.roomId === room.room_id) {
    renderChatHeader();
    if (!before || before.member_count !== room.member_count) loadMembers(chat).catch(() => {});
  }
}

function onPushRoomRemoved({ room_id: roomId }) {
  state.rooms.delete(roomId);
  renderRooms();
  if (state.chat?.roomId === roomId) closeChat();
}

function onPushTyping({ room_id: roomId, user_id: userId }) {
  const chat = state.chat;
  if (!chat || chat.roomId !== roomId || (state.me && userId === state.me.user_id)) return;
  clearTimeout(chat.typing.get(userId));
  chat.typing.set(
    userId,
    setTimeout(() => clearTyping(chat, userId), TYPING_SHOW_MS),
  );
  renderTyping();
}

function clearTyping(chat, userId) {
  if (!chat.typing.has(userId)) return;
  clearTimeout(chat.typing.get(userId));
  chat.typing.delete(userId);
  if (chat === state.chat) renderTyping();
}

// --- the room list -----------------------------------------------------------------------------

let roomsReload = null;

async function loadRooms() {
  const data = await api("GET", "/api/rooms");
  const rooms = new Map(data.rooms.map((room) => [room.room_id, room]));
  // A push may have landed while the list was on its way: keep whichever side is newer.
  for (const [roomId, room] of rooms) {
    const known = state.rooms.get(roomId);
    if (!known) continue;
    if (known.last_seq > room.last_seq) {
      Object.assign(room, { last_seq: known.last_seq, last_message: known.last_message });
    }
    room.last_read_seq = Math.max(room.last_read_seq, known.last_read_seq);
    room.unread = Math.max(room.last_seq - room.last_read_seq, 0);
  }
  state.rooms = rooms;
  renderRooms();
  if (state.chat) renderChatHeader();
}

function scheduleRoomsReload() {
  if (roomsReload) return;
  roomsReload = setTimeout(() => {
    roomsReload = null;
    loadRooms().catch(() => {});
  }, 150);
}

function noteMessageInList(msg) {
  const room = state.rooms.get(msg.room_id);
  if (!room) {
    scheduleRoomsReload(); // a room new to me (first message of a 1:1, an invitation)
    return;
  }
  if (msg.seq > room.last_seq || !room.last_message) {
    room.last_seq = msg.seq;
    room.last_message = {
      seq: msg.seq,
      type: msg.type,
      body: msg.body,
      state: msg.state,
      sender: msg.sender,
      sender_name: msg.sender_name,
      created: msg.created,
    };
  }
  const lookingAtIt = state.chat?.roomId === msg.room_id && document.visibilityState === "visible";
  if (isMine(msg) || lookingAtIt) room.last_read_seq = Math.max(room.last_read_seq, msg.seq);
  room.unread = Math.max(room.last_seq - room.last_read_seq, 0);
  renderRooms();
}

function roomActivity(room) {
  return Date.parse(room.last_message?.created || room.created) || 0;
}

function previewText(last) {
  if (!last) return "";
  if (last.state === "cancelled") return "삭제된 메시지입니다.";
  if (last.type === "image") return "사진";
  if (last.type === "file") return `파일: ${last.body || ""}`.trim();
  return (last.body || "").replace(/\s+/g, " ").trim();
}

function peerOf(room) {
  if (room.kind !== "direct" || !state.me) return null;
  return room.members.find((m) => m.user_id !== state.me.user_id) || room.members[0] || null;
}

function roomAvatar(node, room) {
  const peer = peerOf(room);
  if (peer) fillAvatar(node, peer.name, peer.user_id);
  else {
    fillAvatar(node, room.name, `room:${room.room_id}`);
    node.textContent = [...(room.name || "#")][0];
    node.dataset.len = "1";
    node.classList.add("avatar-group");
  }
}

function renderRooms() {
  const list = $("room-list");
  const rooms = [...state.rooms.values()].sort((a, b) =>
    roomActivity(b) - roomActivity(a),
  );
  const openId = state.chat?.roomId;
  const items = rooms.map((room) => {
    const avatar = el("span", { className: "avatar", "aria-hidden": "true" });
    roomAvatar(avatar, room);
    const unread = room.unread > 0 ? (room.unread > 999 ? "999+" : String(room.unread)) : "";
    const nameRow = el(
      "span",
      { className: "room-top" },
      el("span", { className: "room-name", text: room.name }),
      room.kind === "group"
        ? el("span", { className: "room-count", text: String(room.member_count) })
        : null,
      room.muted ? el("span", { className: "room-muted", title: "알림 끔", text: "🔕" }) : null,
      el("span", { className: "room-time", text: listTime(room.last_message?.created) }),
    );
    const bottomRow = el(
      "span",
      { className: "room-bottom" },
      el("span", { className: "room-preview", text: previewText(room.last_message) }),
      el("span", {
        className: "room-unread",
        text: unread,
        hidden: !unread,
        "aria-label": unread ? `안 읽은 메시지 ${unread}개` : null,
      }),
    );
    const button = el(
      "button",
      {
        type: "button",
        className: "room",
        dataset: { roomId: String(room.room_id), kind: room.kind, unread: String(room.unread) },
        "aria-current": room.room_id === openId ? "true" : null,
        onclick: () => openRoom(room.room_id),
      },
      avatar,
      el("span", { className: "room-text" }, nameRow, bottomRow),
    );
    return el("li", {}, button);
  });
  list.replaceChildren(...items);
  $("room-list-empty").hidden = items.length > 0;
  const total = rooms.reduce((sum, room) => sum + (room.muted ? 0 : room.unread), 0);
  document.title = total > 0 ? `(${total}) 메신저` : "메신저";
}

// --- the open room ---------------------------------------------------------------------------

async function openRoom(roomId) {
  if (state.chat?.roomId === roomId) {
    $("composer-input").focus();
    return;
  }
  saveDraft();
  if (state.chat && sock.ws) wsRequest("close_room", {}).catch(() => {});
  const chat = newChat(roomId);
  state.chat = chat;
  for (const msg of state.outbox.values()) {
    if (msg.room_id === roomId) chat.messages.set(msg.msg_id, msg);
  }
  $("chat-empty").hidden = true;
  $("chat").hidden = false;
  $("chat").dataset.roomId = String(roomId);
  $("composer-input").value = state.drafts.get(roomId) || "";
  renderRooms();
  renderChatHeader();
  renderTyping();
  showHistoryStatus("불러오는 중…");
  $("message-list").replaceChildren();
  announceOpen(chat);
  const room = state.rooms.get(roomId);
  if (room) {
    room.last_read_seq = room.last_seq;
    room.unread = 0;
    renderRooms();
  }
  try {
    const [page] = await Promise.all([
      api("GET", `/api/rooms/${roomId}/messages?limit=${PAGE_SIZE}`),
      loadMembers(chat),
    ]);
    if (state.chat !== chat) return;
    mergeMessages(chat, page.messages);
    chat.hasMore = page.has_more;
    chat.loaded = true;
    showHistoryStatus(null);
    renderMessages({ toBottom: true });
    $("composer-input").focus();
  } catch (error) {
    if (state.chat !== chat) return;
    showHistoryStatus(error.message, true);
  }
}

function closeChat() {
  state.chat = null;
  $("chat").hidden = true;
  $("chat-empty").hidden = false;
  delete $("chat").dataset.roomId;
  renderRooms();
}

function announceOpen(chat) {
  if (!sock.ws) return;
  wsRequest("open_room", { room_id: chat.roomId })
    .then((data) => {
      const room = state.rooms.get(chat.roomId);
      if (room && data.last_read_seq > room.last_read_seq) {
        room.last_read_seq = data.last_read_seq;
        room.unread = Math.max(room.last_seq - room.last_read_seq, 0);
        renderRooms();
      }
    })
    .catch(() => {});
}

let readTimer = null;

// I look at the open room: raise my watermark to its newest message (batched a little).
function markRead(chat) {
  clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    if (state.chat !== chat || !sock.ws) return;
    const seq = maxSeq(chat);
    if (seq > (chat.marks.get(state.me?.user_id) ?? 0)) {
      wsRequest("read", { room_id: chat.roomId, seq }).catch(() => {});
    }
  }, 100);
}

async function loadMembers(chat) {
  const detail = await api("GET", `/api/rooms/${chat.roomId}`);
  if (state.chat !== chat) return;
  const room = state.rooms.get(chat.roomId);
  if (room) Object.assign(room, { ...detail, members: room.members });
  chat.members = new Map(detail.members.map((m) => [m.user_id, m]));
  for (const member of detail.members) raiseMark(chat, member.user_id, member.last_read_seq);
  renderChatHeader();
  updateUnreadCounts();
}

function raiseMark(chat, userId, seq) {
  if (!userId || typeof seq !== "number") return;
  if (seq > (chat.marks.get(userId) ?? -1)) chat.marks.set(userId, seq);
}

// After a reconnect: everything after the newest message shown, then fresh watermarks.
async function catchUp(chat) {
  let after = maxSeq(chat);
  if (!chat.loaded || after === 0) {
    const page = await api("GET", `/api/rooms/${chat.roomId}/messages?limit=${PAGE_SIZE}`);
    if (state.chat !== chat) return;
    mergeMessages(chat, page.messages);
    chat.hasMore = page.has_more;
    chat.loaded = true;
    showHistoryStatus(null);
  } else {
    for (;;) {
      const page = await api(
        "GET",
        `/api/rooms/${chat.roomId}/messages?after_seq=${after}&limit=${CATCH_UP_PAGE}`,
      );
      if (state.chat !== chat) return;
      mergeMessages(chat, page.messages);
      after = maxSeq(chat);
      if (!page.has_more || page.messages.length === 0) break;
    }
  }
  renderMessages();
  await loadMembers(chat);
}

async function loadOlder() {
  const chat = state.chat;
  if (!chat || !chat.loaded || !chat.hasMore || chat.loadingOlder) return;
  const first = minSeq(chat);
  if (!first) return;
  chat.loadingOlder = true;
  showHistoryStatus("이전 메시지를 불러오는 중…");
  try {
    const page = await api(
      "GET",
      `/api/rooms/${chat.roomId}/messages?before_seq=${first}&limit=${PAGE_SIZE}`,
    );
    if (state.chat !== chat) return;
    mergeMessages(chat, page.messages);
    chat.hasMore = page.has_more;
    showHistoryStatus(null);
    renderMessages({ keepFromBottom: true });
  } catch (error) {
    showHistoryStatus(error.message, true);
  } finally {
    chat.loadingOlder = false;
  }
}

function showHistoryStatus(text, isError = false) {
  const node = $("history-status");
  node.hidden = !text;
  node.textContent = text || "";
  node.classList.toggle("is-error", isError);
}

function mergeMessages(chat, messages) {
  for (const incoming of messages) {
    const known = chat.messages.get(incoming.msg_id);
    if (known) {
      Object.assign(known, incoming, { pending: false, failed: false });
    } else {
      chat.messages.set(incoming.msg_id, { ...incoming, pending: false, failed: false });
    }
    if (incoming.sender) raiseMark(chat, incoming.sender, incoming.seq);
    state.outbox.delete(incoming.msg_id);
  }
}

function maxSeq(chat) {
  let max = 0;
  for (const msg of chat.messages.values()) if (msg.seq && msg.seq > max) max = msg.seq;
  return max;
}

function minSeq(chat) {
  let min = 0;
  for (const msg of chat.messages.values()) if (msg.seq && (!min || msg.seq < min)) min = msg.seq;
  return min;
}

function ordered(chat) {
  return [...chat.messages.values()].sort((a, b) => {
    if (a.seq && b.seq) return a.seq - b.seq;
    if (a.seq) return -1;
    if (b.seq) return 1;
    return a.localOrder - b.localOrder;
  });
}

// The "1" beside a bubble: members whose watermark is below the message (the server's rule).
function unreadOf(chat, msg) {
  if (!msg.seq) return 0;
  if (!chat.members) return msg.unread || 0;
  let count = 0;
  for (const userId of chat.members.keys()) if ((chat.marks.get(userId) ?? 0) < msg.seq) count += 1;
  return count;
}

function renderChatHeader() {
  const chat = state.chat;
  if (!chat) return;
  const room = state.rooms.get(chat.roomId);
  const title = room?.name || "";
  $("chat-title").textContent = title;
  const avatar = $("chat-avatar");
  avatar.className = "avatar";
  if (room) roomAvatar(avatar, room);
  let subtitle = "";
  if (room?.kind === "direct") {
    const peer = peerOf(room);
    const full = peer && chat.members?.get(peer.user_id);
    subtitle = [full?.org_name, peer?.user_id].filter(Boolean).join(" · ");
  } else if (room) {
    subtitle = `멤버 ${room.member_count}명`;
  }
  $("chat-subtitle").textContent = subtitle;
}

function renderTyping() {
  const chat = state.chat;
  const line = $("typing-line");
  if (!chat || chat.typing.size === 0) {
    line.textContent = "";
    return;
  }
  const names = [...chat.typing.keys()].map((id) => chat.members?.get(id)?.name || id);
  line.textContent = `${names.join(", ")}님이 입력 중…`;
}

function sameMinute(a, b) {
  return Math.floor(new Date(a.created) / 60000) === Math.floor(new Date(b.created) / 60000);
}

function renderMessages({ toBottom = false, keepFromBottom = false } = {}) {
  const chat = state.chat;
  if (!chat) return;
  const scroller = $("message-scroller");
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  const fromBottom = scroller.scrollHeight - scroller.scrollTop;
  const items = [];
  const messages = ordered(chat);
  let previous = null;
  let day = null;
  messages.forEach((msg, index) => {
    const created = new Date(msg.created);
    if (dayKey(created) !== day) {
      day = dayKey(created);
      items.push(
        el(
          "li",
          { className: "day-sep", role: "separator" },
          el("span", { text: fmtDay.format(created) }),
        ),
      );
      previous = null;
    }
    if (SYSTEM_TYPES.has(msg.type)) {
      items.push(
        el(
          "li",
          {
            className: "sys",
            dataset: { msgId: msg.msg_id, seq: String(msg.seq || ""), type: msg.type },
          },
          el("span", { text: msg.body }),
        ),
      );
      previous = null;
      return;
    }
    const next = messages[index + 1];
    const startsRun =
      !previous || previous.sender !== msg.sender || !sameMinute(previous, msg);
    const endsRun =
      !next ||
      SYSTEM_TYPES.has(next.type) ||
      next.sender !== msg.sender ||
      !sameMinute(next, msg) ||
      dayKey(new Date(next.created)) !== dayKey(created) ||
      Boolean(next.pending || next.failed) !== Boolean(msg.pending || msg.failed);
    items.push(renderMessage(chat, msg, { startsRun, endsRun }));
    previous = msg;
  });
  $("message-list").replaceChildren(...items);
  if (toBottom || (atBottom && !keepFromBottom)) scroller.scrollTop = scroller.scrollHeight;
  else if (keepFromBottom) scroller.scrollTop = scroller.scrollHeight - fromBottom;
  // A short history leaves no scrollbar to pull: fetch the previous page right away.
  if (chat.hasMore && scroller.scrollHeight <= scroller.clientHeight) loadOlder();
}

function renderMessage(chat, msg, { startsRun, endsRun }) {
  const mine = isMine(msg);
  const status = msg.failed ? "failed" : msg.pending ? "sending" : "sent";
  const li = el("li", {
    className: `msg ${mine ? "msg-mine" : "msg-theirs"}${startsRun ? " run-start" : ""}`,
    dataset: {
      msgId: msg.msg_id,
      seq: String(msg.seq || ""),
      mine: String(mine),
      sender: msg.sender || "",
      type: msg.type,
      state: status,
    },
  });
  if (!mine) {
    const avatar = el("span", { className: "avatar avatar-sm", "aria-hidden": "true" });
    if (startsRun) fillAvatar(avatar, msg.sender_name || msg.sender, msg.sender);
    else avatar.classList.add("avatar-blank");
    li.append(avatar);
  }
  const column = el("div", { className: "msg-col" });
  if (!mine && startsRun) {
    column.append(
      el("span", { className: "msg-sender", text: msg.sender_name || msg.sender || "" }),
    );
  } else {
    const who = mine ? "나: " : `${msg.sender_name || msg.sender}: `;
    column.append(el("span", { className: "visually-hidden", text: who }));
  }
  const bubble = el("div", { className: "bubble" });
  if (msg.reply_to) {
    bubble.append(
      el(
        "div",
        { className: "reply-quote" },
        el("strong", { text: msg.reply_to.sender_name || "" }),
        el("span", {
          text: msg.reply_to.state === "cancelled" ? "삭제된 메시지입니다." : msg.reply_to.body,
        }),
      ),
    );
  }
  const body = el("div", { className: "msg-body" });
  if (msg.state === "cancelled") {
    body.classList.add("is-cancelled");
    body.textContent = "삭제된 메시지입니다.";
  } else if (msg.type === "file" || msg.type === "image") {
    body.append(`📎 ${msg.meta?.name || msg.body || "파일"}`);
  } else {
    body.append(...bodyNodes(msg.body || ""));
  }
  bubble.append(body);
  const count = status === "sent" ? unreadOf(chat, msg) : 0;
  const meta = el(
    "div",
    { className: "msg-meta" },
    el("span", {
      className: "msg-unread",
      text: count ? String(count) : "",
      hidden: !count,
      dataset: { unread: String(count) },
      "aria-label": count ? `안 읽은 사람 ${count}명` : null,
    }),
  );
  if (status === "sending") {
    meta.append(el("span", { className: "msg-status", text: "전송 중…" }));
  } else if (status === "failed") {
    meta.append(
      el("span", { className: "msg-status is-error", title: msg.error || "", text: "전송 실패" }),
      el("button", {
        type: "button",
        className: "link-btn",
        text: "다시 보내기",
        onclick: () => trySend(msg),
      }),
      el("button", {
        type: "button",
        className: "link-btn",
        text: "지우기",
        onclick: () => discard(msg),
      }),
    );
  } else if (endsRun) {
    meta.append(
      el("time", {
        className: "msg-time",
        datetime: msg.created,
        text: fmtClock.format(new Date(msg.created)),
      }),
    );
  }
  const row = el("div", { className: "msg-row" }, bubble, meta);
  column.append(row);
  li.append(column);
  return li;
}

function updateUnreadCounts() {
  const chat = state.chat;
  if (!chat) return;
  for (const node of $("message-list").querySelectorAll(".msg[data-state='sent']")) {
    const msg = chat.messages.get(node.dataset.msgId);
    const badge = node.querySelector(".msg-unread");
    if (!msg || !badge) continue;
    const count = unreadOf(chat, msg);
    badge.textContent = count ? String(count) : "";
    badge.hidden = !count;
    badge.dataset.unread = String(count);
    if (count) badge.setAttribute("aria-label", `안 읽은 사람 ${count}명`);
    else badge.removeAttribute("aria-label");
  }
}

// --- sending -----------------------------------------------------------------------------------

function sendFromComposer() {
  const chat = state.chat;
  const input = $("composer-input");
  const body = input.value;
  if (!chat || !state.me || !body.trim()) return;
  input.value = "";
  state.drafts.delete(chat.roomId);
  state.localOrder += 1;
  const msg = {
    msg_id: newUuid(),
    room_id: chat.roomId,
    seq: null,
    sender: state.me.user_id,
    sender_name: state.me.name,
    type: "talk",
    body,
    meta: {},
    reply_to: null,
    state: "",
    created: new Date().toISOString(),
    unread: 0,
    pending: true,
    failed: false,
    localOrder: state.localOrder,
  };
  state.outbox.set(msg.msg_id, msg);
  chat.messages.set(msg.msg_id, msg);
  renderMessages({ toBottom: true });
  trySend(msg);
}

// Send (or resend: the server stores a msg_id once) and merge the stored message from the ack.
async function trySend(msg) {
  msg.failed = false;
  msg.pending = true;
  if (state.chat?.roomId === msg.room_id) renderMessages();
  try {
    const stored = await wsRequest("send_msg", {
      room_id: msg.room_id,
      msg_id: msg.msg_id,
      type: msg.type,
      body: msg.body,
    });
    state.outbox.delete(msg.msg_id);
    noteMessageInList(stored);
    const chat = state.chat;
    if (chat?.roomId === stored.room_id) {
      mergeMessages(chat, [stored]);
      renderMessages();
    }
  } catch (error) {
    // Offline or no answer: it stays "sending" and goes again after the reconnect.
    if (NETWORK_CODES.has(error.code)) return;
    msg.pending = false;
    msg.failed = true;
    msg.error = error.message;
    if (state.chat?.roomId === msg.room_id) renderMessages();
  }
}

function discard(msg) {
  state.outbox.delete(msg.msg_id);
  state.chat?.messages.delete(msg.msg_id);
  renderMessages();
}

function saveDraft() {
  const chat = state.chat;
  if (!chat) return;
  const text = $("composer-input").value;
  if (text) state.drafts.set(chat.roomId, text);
  else state.drafts.delete(chat.roomId);
}

let lastTypingSent = 0;

function onComposerInput() {
  const chat = state.chat;
  const now = Date.now();
  if (!chat || !sock.ws || !$("composer-input").value || now - lastTypingSent < TYPING_SEND_MS) {
    return;
  }
  lastTypingSent = now;
  wsRequest("typing", { room_id: chat.roomId }).catch(() => {});
}

// --- new 1:1 chat --------------------------------------------------------------------------------

let searchTimer = null;
let searchSerial = 0;

function openNewChat() {
  const dialog = $("new-chat-dialog");
  $("user-search").value = "";
  $("user-results").replaceChildren();
  $("user-search-status").textContent = "";
  dialog.showModal();
  $("user-search").focus();
}

function onUserSearchInput() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(searchUsers, 250);
}

async function searchUsers() {
  const q = $("user-search").value.trim();
  const serial = ++searchSerial;
  const status = $("user-search-status");
  if (!q) {
    $("user-results").replaceChildren();
    status.textContent = "";
    return;
  }
  status.textContent = "찾는 중…";
  try {
    const data = await api("GET", `/api/users?q=${encodeURIComponent(q)}`);
    if (serial !== searchSerial) return;
    status.textContent = data.users.length ? "" : "찾는 사람이 없습니다.";
    $("user-results").replaceChildren(
      ...data.users.map((user) => {
        const avatar = el("span", { className: "avatar avatar-sm", "aria-hidden": "true" });
        fillAvatar(avatar, user.name, user.user_id);
        const me = state.me && user.user_id === state.me.user_id;
        return el(
          "li",
          {},
          el(
            "button",
            {
              type: "button",
              className: "person",
              dataset: { userId: user.user_id },
              onclick: () => startDirect(user.user_id),
            },
            avatar,
            el(
              "span",
              { className: "person-text" },
              el("span", { className: "person-name", text: me ? `${user.name} (나)` : user.name }),
              el("span", {
                className: "person-sub",
                text: [user.org_name, user.job].filter(Boolean).join(" · "),
              }),
            ),
            user.online ? el("span", { className: "online-dot", title: "접속 중" }) : null,
          ),
        );
      }),
    );
  } catch (error) {
    if (serial === searchSerial) status.textContent = error.message;
  }
}

async function startDirect(userId) {
  const status = $("user-search-status");
  status.textContent = "채팅방을 여는 중…";
  try {
    const room = await api("POST", "/api/rooms", { member_ids: [userId] });
    state.rooms.set(room.room_id, room);
    $("new-chat-dialog").close();
    renderRooms();
    openRoom(room.room_id);
  } catch (error) {
    status.textContent = error.message;
  }
}

// --- log in and out ------------------------------------------------------------------------------

function showLogin(message) {
  $("app-view").hidden = true;
  $("login-view").hidden = false;
  const error = $("login-error");
  error.hidden = !message;
  error.textContent = message || "";
  $("login-password").value = "";
  $("login-submit").disabled = false;
  ($("login-user-id").value ? $("login-password") : $("login-user-id")).focus();
}

async function onLogin(event) {
  event.preventDefault();
  const userId = $("login-user-id").value.trim();
  const password = $("login-password").value;
  const error = $("login-error");
  if (!userId || !password) {
    error.textContent = "아이디와 비밀번호를 입력하세요.";
    error.hidden = false;
    return;
  }
  $("login-submit").disabled = true;
  error.hidden = true;
  try {
    const response = await rawFetch("POST", "/api/auth/token", { user_id: userId, password });
    if (!response.ok) throw await readError(response);
    const data = await response.json();
    tokens.save({ access: data.access, refresh: data.refresh });
    $("login-password").value = "";
    await startApp();
  } catch (failure) {
    error.textContent = failure.message;
    error.hidden = false;
    $("login-password").select();
  } finally {
    $("login-submit").disabled = false;
  }
}

function logout(message) {
  disconnectSocket();
  tokens.clear();
  clearTimeout(roomsReload);
  roomsReload = null;
  state.me = null;
  state.rooms = new Map();
  state.chat = null;
  state.outbox.clear();
  state.drafts.clear();
  $("room-list").replaceChildren();
  $("message-list").replaceChildren();
  $("chat").hidden = true;
  $("chat-empty").hidden = false;
  document.title = "메신저";
  if ($("new-chat-dialog").open) $("new-chat-dialog").close();
  showLogin(message);
}

async function startApp() {
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  setConn("connecting");
  try {
    state.me = await api("GET", "/api/me");
  } catch (error) {
    if (error.status === 401) return; // api() has already sent us to the login form
    if (!tokens.access) return;
    setConn("failed", error.message);
    return;
  }
  $("me-name").textContent = state.me.name;
  $("me-org").textContent = [state.me.org_name, state.me.job].filter(Boolean).join(" · ");
  fillAvatar($("me-avatar"), state.me.name, state.me.user_id);
  document.body.dataset.me = state.me.user_id;
  loadRooms().catch((error) => setConn("offline", error.message));
  connectSocket();
}

// --- wiring --------------------------------------------------------------------------------------

function wire() {
  $("login-form").addEventListener("submit", onLogin);
  $("logout-btn").addEventListener("click", () => logout());
  $("new-chat-btn").addEventListener("click", openNewChat);
  $("user-search").addEventListener("input", onUserSearchInput);
  $("conn-retry").addEventListener("click", () => {
    setConn("connecting");
    sock.attempts = 0;
    connectSocket();
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    sendFromComposer();
  });
  $("composer-input").addEventListener("keydown", (event) => {
    // Enter sends; Shift+Enter is a new line; Enter that ends a Hangul composition is not a send.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      sendFromComposer();
    }
  });
  $("composer-input").addEventListener("input", onComposerInput);
  $("message-scroller").addEventListener("scroll", () => {
    if ($("message-scroller").scrollTop < 120) loadOlder();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.chat) markRead(state.chat);
  });
  window.addEventListener("online", () => {
    if (!sock.stopped && !sock.ws) connectSocket();
  });
}

wire();
if (tokens.access) startApp();
else showLogin();
