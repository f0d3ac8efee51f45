// The browser client: log in, the left column (people, chats, settings), one open room, and one
// WebSocket for live pushes.
//
// Everything people write (names, bodies, room names, file names) reaches the page through
// textContent or text nodes, never innerHTML. Delivery rests on seq, not on the socket: after
// every (re)connect the room list and the open room's newer messages are fetched again, and
// messages are merged by msg_id so nothing shows twice. Text written while offline waits in
// IndexedDB (outbox.js) and is sent again with the same msg_id, so it lands exactly once.

import {
  api,
  ApiError,
  LOGGED_OUT,
  logoutOnServer,
  NETWORK_CODES,
  rawFetch,
  readError,
  refreshAccess,
  setAuthLostHandler,
  tokenExpiresWithin,
  tokens,
} from "./api.js";
import * as files from "./files.js";
import { applyI18n, t } from "./i18n.js";
import { takeOidcResult } from "./oidc.js";
import { outboxAll, outboxDelete, outboxPut } from "./outbox.js";
import * as people from "./people.js";
import { previewOf } from "./rules.js";
import * as settings from "./settings.js";
import {
  $,
  avatarFor,
  bodyNodes,
  copyText,
  dayKey,
  el,
  fillAvatar,
  fmtClock,
  fmtDay,
  icon,
  listTime,
  newUuid,
} from "./util.js";

const PAGE_SIZE = 50;
const PAGE_MAX = 200;
const CATCH_UP_PAGE = 200;
const ALIVE_MS = 25_000;
const FOCUS_DEBOUNCE_MS = 300;
const ACK_TIMEOUT_MS = 15_000;
// The server allows one typing event per room every 2 s; a little more keeps clear of its clock.
const TYPING_SEND_MS = 2_100;
const TYPING_SHOW_MS = 4_000;
const MAX_BACKOFF_MS = 30_000;
// Text older than this when the connection comes back is not sent on its own: it may be stale,
// so it waits as "failed" for the writer to retry or delete it.
const OUTBOX_AUTO_RESEND_MS = 10 * 60_000;
const CANCEL_WINDOW_MS = 24 * 3600_000;
const SYSTEM_TYPES = new Set(["invite", "leave", "notice"]);
const FILE_TYPES = new Set(["file", "image", "flink"]);
const CLOSE_BAD_TOKEN = 4001;
const CLOSE_REPLACED = 4002;
const CLOSE_DISABLED = 4003;
const CLOSE_BAD_REQUEST = 4000;
const CACHE_KEYS = {
  me: "messenger.me",
  rooms: "messenger.rooms",
  open: "messenger.open",
  drafts: "messenger.drafts",
  tab: "messenger.tab",
};

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
    members: null, // user_id -> member; null until GET /api/rooms/{id} answers
    marks: new Map(), // user_id -> last_read_seq (never lowered)
    master: null,
    hasMore: false,
    loaded: false,
    loadingOlder: false,
    typing: new Map(), // user_id -> timer
    readBefore: null, // my watermark when I opened the room: the "unread below" divider
    dividerSeq: null,
    newBelow: 0, // messages that arrived while I was scrolled up
    replyTo: null,
  };
}

const isMine = (msg) => state.me && msg.sender === state.me.user_id;
const isSystem = (msg) => SYSTEM_TYPES.has(msg.type);

// --- a little persistence in this tab (survives a reload, not the tab) ---------------------------

function cacheSave(key, value) {
  try {
    if (value === null || value === undefined) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, JSON.stringify(value));
  } catch {
    // storage full or refused: the cache is a convenience only
  }
}

function cacheLoad(key) {
  try {
    return JSON.parse(sessionStorage.getItem(key));
  } catch {
    return null;
  }
}

function cacheClear() {
  for (const key of Object.values(CACHE_KEYS)) sessionStorage.removeItem(key);
}

let roomsSaveTimer = null;

function saveRooms() {
  clearTimeout(roomsSaveTimer);
  roomsSaveTimer = null;
  if (state.me) cacheSave(CACHE_KEYS.rooms, [...state.rooms.values()]);
}

function saveRoomsSoon() {
  clearTimeout(roomsSaveTimer);
  roomsSaveTimer = setTimeout(saveRooms, 300);
}

function saveDrafts() {
  cacheSave(CACHE_KEYS.drafts, Object.fromEntries(state.drafts));
}

// --- toast -------------------------------------------------------------------------------------

let toastTimer = null;

function toast(text, isError = false) {
  if (!$("login-view").hidden) return; // a late answer to the last login: the form says enough
  const node = $("toast");
  node.textContent = text;
  node.classList.toggle("is-error", isError);
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    node.hidden = true;
  }, 3200);
}

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
  connecting: false, // a ticket is on its way
  focusSent: null, // the last `focused` this connection reported
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

// The socket opens with a single-use ticket (POST /api/auth/ws-ticket), never with the token
// in its URL, which proxies and access logs would keep.
async function wsTicket() {
  if (tokenExpiresWithin(10_000)) {
    const outcome = await refreshAccess();
    if (outcome === "invalid") {
      logout(t("error.loginExpiredAgain"));
      return null;
    }
  }
  try {
    const { ticket } = await api("POST", "/api/auth/ws-ticket");
    return ticket;
  } catch (error) {
    // api() has sent us to the login form already, or we logged out meanwhile.
    if (error.status === 401 || error.code === LOGGED_OUT) return null;
    if (!sock.stopped) {
      setConn("offline", t("conn.offline"));
      scheduleReconnect();
    }
    return null;
  }
}

async function connectSocket() {
  clearTimeout(sock.retryTimer);
  sock.retryTimer = null;
  sock.stopped = false;
  if (sock.ws || sock.connecting) return;
  sock.connecting = true;
  let ticket;
  try {
    ticket = await wsTicket();
  } finally {
    sock.connecting = false;
  }
  if (!ticket || sock.stopped || sock.ws) return;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = `kind=web&ticket=${encodeURIComponent(ticket)}`;
  const ws = new WebSocket(`${scheme}//${location.host}/ws/?${query}`);
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
      reject(new ApiError(0, "offline", t("conn.lost")));
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
    setConn("replaced", t("conn.replaced"));
    return;
  }
  if (code === CLOSE_DISABLED) {
    logout(t("error.disabled"));
    return;
  }
  if (code === CLOSE_BAD_REQUEST) {
    sock.stopped = true;
    setConn("failed", t("conn.refused"));
    return;
  }
  setConn("offline", t("conn.offline"));
  if (code === CLOSE_BAD_TOKEN) {
    sock.badTokens += 1;
    if (sock.badTokens > 2) {
      logout(t("error.loginExpiredAgain"));
      return;
    }
    refreshAccess().then((outcome) => {
      if (outcome === "invalid") logout(t("error.loginExpiredAgain"));
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
      reject(new ApiError(0, "offline", t("conn.down")));
      return;
    }
    sock.nextId += 1;
    const id = `r${sock.nextId}`;
    const timer = setTimeout(() => {
      sock.pending.delete(id);
      reject(new ApiError(0, "timeout", t("error.timeout")));
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
      waiter.reject(new ApiError(0, error.code || "error", error.message || t("error.failed")));
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
  sock.focusSent = null;
  const chat = state.chat;
  if (chat?.loaded) announceOpen(chat);
  else reportFocus();
  await Promise.allSettled([
    loadRooms(),
    refreshMe(),
    chat ? (chat.loaded ? catchUp(chat) : loadChat(chat)) : null,
  ]);
  flushOutbox();
}

async function refreshMe() {
  const me = await api("GET", "/api/me");
  setMe(me);
}

// --- pushes ------------------------------------------------------------------------------------

const PUSHES = {
  message: onPushMessage,
  message_updated: onPushMessageUpdated,
  read: onPushRead,
  room_updated: onPushRoomUpdated,
  room_removed: onPushRoomRemoved,
  typing: onPushTyping,
  notify: onPushNotify,
  presence: (data) => people.onPresence(data),
};

function onPushMessage(msg) {
  noteMessageInList(msg);
  const chat = state.chat;
  if (!chat || chat.roomId !== msg.room_id) return;
  const known = chat.messages.has(msg.msg_id);
  const scroller = $("message-scroller");
  const atBottom = isAtBottom(scroller);
  mergeMessages(chat, [msg]);
  clearTyping(chat, msg.sender);
  if (!known && !isMine(msg) && !atBottom && chat.loaded) {
    chat.newBelow += 1;
    chat.newBelowLast = msg;
  }
  renderMessages();
  renderNewBar();
  // The list is redrawn as a whole; screen readers hear just the newcomer.
  if (!known && !isMine(msg)) {
    $("live-announcer").textContent = isSystem(msg)
      ? msg.body
      : `${msg.sender_name || msg.sender}: ${previewOf(msg)}`;
  }
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
    // A link preview card arrives this way, with the message's new meta.
    if (data.meta && typeof data.meta === "object") msg.meta = data.meta;
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

// --- notifications ---------------------------------------------------------------------------

// The server decides who is alerted and what the alert says (docs/notifications.md): this
// page only shows a `notify` push, and tells the server whether it is in front of the user.

function onPushNotify(data) {
  const roomId = data.room_id;
  if (!Number.isInteger(roomId) || typeof data.title !== "string") return;
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  try {
    const note = new Notification(data.title, {
      body: typeof data.body === "string" ? data.body : "",
      tag: `messenger-room-${roomId}`,
      renotify: true,
      lang: document.documentElement.lang,
    });
    note.addEventListener("click", () => {
      window.focus();
      selectTab("chats");
      openRoom(roomId);
      note.close();
    });
  } catch {
    // some browsers allow notifications only from a service worker: nothing more to do
  }
}

function isFocused() {
  return document.visibilityState === "visible" && document.hasFocus();
}

let focusTimer = null;

// Report focus changes, debounced: a blur followed at once by a focus (a dialog, switching
// frames) sends nothing; an unchanged state isn't sent again.
function reportFocus({ delay = 0 } = {}) {
  clearTimeout(focusTimer);
  focusTimer = setTimeout(() => {
    if (!sock.ws || sock.ws.readyState !== WebSocket.OPEN) return;
    const focused = isFocused();
    if (focused === sock.focusSent) return;
    sock.focusSent = focused;
    wsRequest("focus", { focused }).catch(() => {
      if (sock.focusSent === focused) sock.focusSent = null;
    });
  }, delay);
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
      meta: msg.meta,
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

function peerOf(room) {
  if (room.kind !== "direct" || !state.me) return null;
  return room.members.find((m) => m.user_id !== state.me.user_id) || room.members[0] || null;
}

function roomAvatar(node, room) {
  const peer = peerOf(room);
  node.classList.remove("avatar-group");
  if (peer) fillAvatar(node, peer.name, peer.user_id);
  else {
    fillAvatar(node, room.name, `room:${room.room_id}`);
    node.textContent = [...(room.name || "#")][0];
    node.dataset.len = "1";
    node.classList.add("avatar-group");
  }
}

const badgeText = (n) => (n > 999 ? "999+" : String(n));

function renderRooms() {
  const list = $("room-list");
  const rooms = [...state.rooms.values()].sort((a, b) => roomActivity(b) - roomActivity(a));
  const openId = state.chat?.roomId;
  const items = rooms.map((room) => {
    const avatar = el("span", { className: "avatar", "aria-hidden": "true" });
    roomAvatar(avatar, room);
    const unread = room.unread > 0 ? badgeText(room.unread) : "";
    const nameRow = el(
      "span",
      { className: "room-top" },
      el("span", { className: "room-name", text: room.name }),
      room.kind === "group"
        ? el("span", { className: "room-count", text: String(room.member_count) })
        : null,
      room.muted
        ? el(
            "span",
            { className: "room-muted", title: t("rooms.muted"), "aria-label": t("rooms.muted") },
            icon("bell-off"),
          )
        : null,
      el("span", { className: "room-time", text: listTime(room.last_message?.created) }),
    );
    const bottomRow = el(
      "span",
      { className: "room-bottom" },
      el("span", { className: "room-preview", text: previewOf(room.last_message) }),
      el("span", {
        className: "room-unread",
        text: unread,
        hidden: !unread,
        "aria-label": unread ? t("rooms.unreadLabel", { n: unread }) : null,
      }),
    );
    const button = el(
      "button",
      {
        type: "button",
        className: "room",
        dataset: {
          roomId: String(room.room_id),
          kind: room.kind,
          unread: String(room.unread),
          muted: String(Boolean(room.muted)),
        },
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
  document.title = total > 0 ? `(${badgeText(total)}) ${t("app.name")}` : t("app.name");
  const badge = $("chats-unread-badge");
  badge.hidden = total === 0;
  badge.textContent = total ? badgeText(total) : "";
  badge.setAttribute("aria-label", total ? t("rooms.unreadLabel", { n: total }) : "");
  saveRoomsSoon();
}

// --- tabs ----------------------------------------------------------------------------------------

const TABS = ["people", "chats", "settings"];

function selectTab(name, { focus = false } = {}) {
  if (!TABS.includes(name)) name = "chats";
  for (const tab of TABS) {
    const button = $(`tab-${tab}`);
    const selected = tab === name;
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    $(`panel-${tab}`).hidden = !selected;
    if (selected && focus) button.focus();
  }
  document.body.dataset.tab = name;
  cacheSave(CACHE_KEYS.tab, name);
  if (name === "people") people.show();
  if (name === "settings") settings.show();
}

function onTabKey(event) {
  const current = TABS.indexOf(event.currentTarget.dataset.tab);
  let next = null;
  if (event.key === "ArrowRight" || event.key === "ArrowDown") next = (current + 1) % TABS.length;
  if (event.key === "ArrowLeft" || event.key === "ArrowUp") {
    next = (current + TABS.length - 1) % TABS.length;
  }
  if (event.key === "Home") next = 0;
  if (event.key === "End") next = TABS.length - 1;
  if (next === null) return;
  event.preventDefault();
  selectTab(TABS[next], { focus: true });
}

// --- the open room ---------------------------------------------------------------------------

async function openRoom(roomId, { highlight = null } = {}) {
  if (state.chat?.roomId === roomId) {
    if (highlight) jumpTo(highlight);
    else $("composer-input").focus();
    return;
  }
  saveDraft();
  if (state.chat && sock.ws) wsRequest("close_room", {}).catch(() => {});
  const chat = newChat(roomId);
  state.chat = chat;
  cacheSave(CACHE_KEYS.open, roomId);
  for (const msg of state.outbox.values()) {
    if (msg.room_id === roomId) chat.messages.set(msg.msg_id, msg);
  }
  $("chat-empty").hidden = true;
  $("chat").hidden = false;
  $("chat").dataset.roomId = String(roomId);
  $("composer-input").value = state.drafts.get(roomId) || "";
  setReply(null);
  renderRooms();
  renderChatHeader();
  renderTyping();
  renderNewBar();
  files.showRoom(roomId);
  $("message-list").replaceChildren();
  renderMessages({ toBottom: true });
  await loadChat(chat);
  if (highlight && state.chat === chat) jumpTo(highlight);
}

// The first page of an opened room. My watermark is read (GET /api/rooms/{id}) before open_room
// raises it, so the "unread below" divider knows where my reading stopped.
async function loadChat(chat) {
  showHistoryStatus(t("history.loading"));
  const known = state.rooms.get(chat.roomId);
  const limit = Math.min(Math.max(PAGE_SIZE, (known?.unread || 0) + 10), PAGE_MAX);
  try {
    const [detail, page] = await Promise.all([
      api("GET", `/api/rooms/${chat.roomId}`),
      api("GET", `/api/rooms/${chat.roomId}/messages?limit=${limit}`),
    ]);
    if (state.chat !== chat) return;
    applyDetail(chat, detail);
    chat.readBefore ??= detail.last_read_seq;
    mergeMessages(chat, page.messages);
    chat.hasMore = page.has_more;
    chat.loaded = true;
    // The divider marks where my reading stopped: only worth a line when something read is
    // above it (loaded, or further up the history).
    const list = ordered(chat);
    const firstUnread = list.find((msg) => msg.seq && msg.seq > chat.readBefore && !isMine(msg));
    const readAbove = chat.hasMore || list.some((msg) => msg.seq && msg.seq <= chat.readBefore);
    chat.dividerSeq = firstUnread && readAbove ? firstUnread.seq : null;
    announceOpen(chat);
    const room = state.rooms.get(chat.roomId);
    if (room) {
      room.last_read_seq = Math.max(room.last_read_seq, room.last_seq);
      room.unread = 0;
      renderRooms();
    }
    showHistoryStatus(null);
    renderMessages({ toDivider: true });
    if (document.activeElement === document.body || !document.activeElement) {
      $("composer-input").focus();
    }
  } catch (error) {
    if (state.chat !== chat) return;
    showHistoryStatus(
      NETWORK_CODES.has(error.code) ? t("history.offline") : error.message,
      !NETWORK_CODES.has(error.code),
    );
    if (error.status === 403 || error.status === 404) {
      state.rooms.delete(chat.roomId);
      renderRooms();
    }
  }
}

function closeChat() {
  state.chat = null;
  cacheSave(CACHE_KEYS.open, null);
  $("chat").hidden = true;
  $("chat-empty").hidden = false;
  delete $("chat").dataset.roomId;
  renderRooms();
}

function announceOpen(chat) {
  if (!sock.ws) return;
  wsRequest("open_room", { room_id: chat.roomId })
    .then((data) => {
      // The server counts an opened room as focused: correct it if the window is behind.
      sock.focusSent = true;
      reportFocus();
      const room = state.rooms.get(chat.roomId);
      if (room && data.last_read_seq > room.last_read_seq) {
        room.last_read_seq = data.last_read_seq;
        room.unread = Math.max(room.last_seq - room.last_read_seq, 0);
        renderRooms();
      }
      if (state.chat === chat && state.me) raiseMark(chat, state.me.user_id, data.last_read_seq);
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

function applyDetail(chat, detail) {
  const room = state.rooms.get(chat.roomId);
  if (room) Object.assign(room, { ...detail, members: room.members });
  else {
    state.rooms.set(chat.roomId, { ...detail, members: detail.members.slice(0, 6) });
    renderRooms();
  }
  chat.members = new Map(detail.members.map((m) => [m.user_id, m]));
  chat.master = detail.master;
  for (const member of detail.members) raiseMark(chat, member.user_id, member.last_read_seq);
  renderChatHeader();
  updateUnreadCounts();
}

async function loadMembers(chat) {
  const detail = await api("GET", `/api/rooms/${chat.roomId}`);
  if (state.chat !== chat) return;
  applyDetail(chat, detail);
}

function raiseMark(chat, userId, seq) {
  if (!userId || typeof seq !== "number") return;
  if (seq > (chat.marks.get(userId) ?? -1)) chat.marks.set(userId, seq);
}

// After a reconnect: everything after the newest message shown, then fresh watermarks.
async function catchUp(chat) {
  let after = maxSeq(chat);
  if (after === 0) {
    const page = await api("GET", `/api/rooms/${chat.roomId}/messages?limit=${PAGE_SIZE}`);
    if (state.chat !== chat) return;
    mergeMessages(chat, page.messages);
    chat.hasMore = page.has_more;
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
  showHistoryStatus(null);
  renderMessages();
  await loadMembers(chat);
  if (document.visibilityState === "visible") markRead(chat);
}

async function loadOlder() {
  const chat = state.chat;
  if (!chat || !chat.loaded || !chat.hasMore || chat.loadingOlder) return false;
  const first = minSeq(chat);
  if (!first) return false;
  chat.loadingOlder = true;
  showHistoryStatus(t("history.older"));
  try {
    const page = await api(
      "GET",
      `/api/rooms/${chat.roomId}/messages?before_seq=${first}&limit=${PAGE_SIZE}`,
    );
    if (state.chat !== chat) return false;
    mergeMessages(chat, page.messages);
    chat.hasMore = page.has_more;
    showHistoryStatus(null);
    renderMessages({ keepFromBottom: true });
    return true;
  } catch (error) {
    showHistoryStatus(error.message, true);
    return false;
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
    if (state.outbox.delete(incoming.msg_id)) outboxDelete(incoming.msg_id);
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
  $("chat-title").textContent = room?.name || "";
  const avatar = $("chat-avatar");
  avatar.className = "avatar";
  if (room) roomAvatar(avatar, room);
  let subtitle = "";
  if (room?.kind === "direct") {
    const peer = peerOf(room);
    const full = peer && chat.members?.get(peer.user_id);
    subtitle = [full?.org_name, peer?.user_id].filter(Boolean).join(" · ");
    // A deactivated peer stays in the room's previews (active: false); sending is refused.
    if (peer?.active === false) subtitle = t("chat.peerDeactivated");
  } else if (room) {
    subtitle = t("chat.members", { n: room.member_count });
  }
  $("chat-subtitle").textContent = subtitle;
  $("chat-muted").hidden = !room?.muted;
  $("chat").dataset.muted = String(Boolean(room?.muted));
}

function renderTyping() {
  const chat = state.chat;
  const line = $("typing-line");
  if (!chat || chat.typing.size === 0) {
    line.textContent = "";
    return;
  }
  const names = [...chat.typing.keys()].map((id) => chat.members?.get(id)?.name || id);
  line.textContent = t("chat.typing", { names: names.join(", ") });
}

// --- the message list ----------------------------------------------------------------------------

function isAtBottom(scroller) {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
}

function sameMinute(a, b) {
  return Math.floor(new Date(a.created) / 60000) === Math.floor(new Date(b.created) / 60000);
}

function renderMessages({ toBottom = false, keepFromBottom = false, toDivider = false } = {}) {
  const chat = state.chat;
  if (!chat) return;
  const scroller = $("message-scroller");
  const atBottom = isAtBottom(scroller);
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
    if (chat.dividerSeq && msg.seq === chat.dividerSeq) {
      items.push(
        el(
          "li",
          { id: "unread-divider", className: "unread-divider", role: "separator" },
          el("span", { text: t("chat.unreadBelow") }),
        ),
      );
      previous = null;
    }
    if (isSystem(msg)) {
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
    const startsRun = !previous || previous.sender !== msg.sender || !sameMinute(previous, msg);
    const endsRun =
      !next ||
      isSystem(next) ||
      next.sender !== msg.sender ||
      !sameMinute(next, msg) ||
      next.seq === chat.dividerSeq ||
      dayKey(new Date(next.created)) !== dayKey(created) ||
      Boolean(next.pending || next.failed) !== Boolean(msg.pending || msg.failed);
    items.push(renderMessage(chat, msg, { startsRun, endsRun }));
    previous = msg;
  });
  $("message-list").replaceChildren(...items);
  const divider = $("unread-divider");
  if (toDivider && divider) {
    // Show where my reading stopped, unless all of the unread part fits on the screen.
    const below = scroller.scrollHeight - divider.offsetTop;
    scroller.scrollTop =
      below > scroller.clientHeight ? divider.offsetTop - 12 : scroller.scrollHeight;
  } else if (toBottom || toDivider || (atBottom && !keepFromBottom)) {
    scroller.scrollTop = scroller.scrollHeight;
  } else if (keepFromBottom) scroller.scrollTop = scroller.scrollHeight - fromBottom;
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
      msgState: msg.state || "",
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
    const who = mine ? t("msg.me") : `${msg.sender_name || msg.sender}: `;
    column.append(el("span", { className: "visually-hidden", text: who }));
  }
  const isFile = FILE_TYPES.has(msg.type) && msg.state !== "cancelled";
  const bubble = el("div", { className: `bubble${isFile ? " bubble-file" : ""}` });
  if (msg.reply_to) bubble.append(renderQuote(msg.reply_to));
  if (msg.state === "cancelled") {
    bubble.append(el("div", { className: "msg-body is-cancelled", text: t("msg.cancelled") }));
  } else if (isFile) {
    bubble.append(files.renderFile(msg));
  } else {
    bubble.append(el("div", { className: "msg-body" }, ...bodyNodes(msg.body || "")));
    const card = files.renderLink(msg);
    if (card) bubble.append(card);
  }
  bubble.addEventListener("contextmenu", (event) => {
    event.preventDefault();
    openMessageMenu(msg, { x: event.clientX, y: event.clientY });
  });
  const count = status === "sent" && msg.state !== "cancelled" ? unreadOf(chat, msg) : 0;
  const meta = el(
    "div",
    { className: "msg-meta" },
    el("button", {
      type: "button",
      className: "msg-unread",
      text: count ? String(count) : "",
      hidden: !count,
      dataset: { unread: String(count) },
      "aria-label": count ? t("msg.unreadLabel", { n: count }) : null,
      title: t("readers.title"),
      onclick: () => showReaders(msg),
    }),
  );
  if (status === "sending") {
    meta.append(el("span", { className: "msg-status", text: t("msg.sending") }));
  } else if (status === "failed") {
    meta.append(
      el("span", {
        className: "msg-status is-error",
        title: msg.error || "",
        text: t("msg.failed"),
      }),
      el("button", {
        type: "button",
        className: "link-btn msg-retry",
        text: t("msg.retry"),
        onclick: () => retry(msg),
      }),
      el("button", {
        type: "button",
        className: "link-btn msg-discard",
        text: t("msg.discard"),
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
  const more = el(
    "button",
    {
      type: "button",
      className: "msg-more",
      "aria-label": t("msg.actions"),
      title: t("msg.actions"),
      "aria-haspopup": "menu",
      onclick: (event) => openMessageMenu(msg, { anchor: event.currentTarget }),
    },
    icon("more-h"),
  );
  const row = el("div", { className: "msg-row" }, bubble, meta, status === "sent" ? more : null);
  column.append(row);
  li.append(column);
  return li;
}

function renderQuote(reply) {
  const text =
    reply.state === "cancelled"
      ? t("msg.cancelled")
      : FILE_TYPES.has(reply.type)
        ? previewOf(reply)
        : reply.body;
  return el(
    "button",
    {
      type: "button",
      className: "reply-quote",
      dataset: { replyTo: reply.msg_id },
      title: t("reply.jump"),
      onclick: () => jumpTo(reply.msg_id, reply.seq),
    },
    el("strong", { text: t("reply.to", { name: reply.sender_name || "" }) }),
    el("span", { text: text || "" }),
  );
}

function updateUnreadCounts() {
  const chat = state.chat;
  if (!chat) return;
  for (const node of $("message-list").querySelectorAll(".msg[data-state='sent']")) {
    const msg = chat.messages.get(node.dataset.msgId);
    const badge = node.querySelector(".msg-unread");
    if (!msg || !badge) continue;
    const count = msg.state === "cancelled" ? 0 : unreadOf(chat, msg);
    badge.textContent = count ? String(count) : "";
    badge.hidden = !count;
    badge.dataset.unread = String(count);
    if (count) badge.setAttribute("aria-label", t("msg.unreadLabel", { n: count }));
    else badge.removeAttribute("aria-label");
  }
}

// Scroll to a message (loading older pages until it is there) and make it blink once.
async function jumpTo(msgId, seq) {
  const chat = state.chat;
  if (!chat) return;
  let guard = 0;
  while (!chat.messages.has(msgId) && chat.hasMore && guard < 40) {
    if (seq && minSeq(chat) && seq > minSeq(chat)) break; // in range but gone (deleted for me)
    guard += 1;
    if (chat.loadingOlder) await new Promise((resolve) => setTimeout(resolve, 100));
    else if (!(await loadOlder())) break;
    if (state.chat !== chat) return;
  }
  const node = $("message-list").querySelector(`[data-msg-id="${CSS.escape(msgId)}"]`);
  if (!node) {
    toast(t("reply.missing"));
    return;
  }
  node.scrollIntoView({ block: "center" });
  node.classList.remove("is-flash");
  void node.offsetWidth; // restart the animation
  node.classList.add("is-flash");
  node.dataset.jumped = "true";
}

// --- the "new messages" bar ----------------------------------------------------------------------

function renderNewBar() {
  const chat = state.chat;
  const bar = $("new-msg-bar");
  if (!chat || chat.newBelow === 0) {
    bar.hidden = true;
    return;
  }
  const last = chat.newBelowLast;
  const who = last ? last.sender_name || last.sender : "";
  $("new-msg-text").textContent = t("chat.newBelow", {
    n: chat.newBelow,
    preview: last ? `${who}: ${previewOf(last)}` : "",
  });
  bar.hidden = false;
}

function onScroll() {
  const scroller = $("message-scroller");
  if (scroller.scrollTop < 120) loadOlder();
  const chat = state.chat;
  if (chat && chat.newBelow && isAtBottom(scroller)) {
    chat.newBelow = 0;
    chat.newBelowLast = null;
    renderNewBar();
  }
}

// --- menus ---------------------------------------------------------------------------------------

let openMenuState = null;

function closeMenu({ restoreFocus = true } = {}) {
  if (!openMenuState) return;
  const { menu, trigger } = openMenuState;
  openMenuState = null;
  menu.hidden = true;
  trigger?.setAttribute("aria-expanded", "false");
  if (restoreFocus && trigger?.isConnected) trigger.focus();
}

function showMenu(menu, { anchor = null, x = 0, y = 0 }) {
  closeMenu({ restoreFocus: false });
  menu.hidden = false;
  const rect = anchor ? anchor.getBoundingClientRect() : { left: x, right: x, top: y, bottom: y };
  const width = menu.offsetWidth;
  const height = menu.offsetHeight;
  let left = anchor ? rect.right - width : x;
  let top = rect.bottom + 4;
  if (left + width > innerWidth - 8) left = innerWidth - width - 8;
  if (top + height > innerHeight - 8) top = Math.max(8, rect.top - height - 4);
  menu.style.left = `${Math.max(8, left)}px`;
  menu.style.top = `${top}px`;
  anchor?.setAttribute("aria-expanded", "true");
  openMenuState = { menu, trigger: anchor };
  menu.querySelector("[role=menuitem]:not([hidden])")?.focus();
}

function onMenuKey(event) {
  const menu = event.currentTarget;
  const items = [...menu.querySelectorAll("[role=menuitem]:not([hidden])")];
  const index = items.indexOf(document.activeElement);
  if (event.key === "Escape") {
    event.preventDefault();
    closeMenu();
  } else if (event.key === "ArrowDown") {
    event.preventDefault();
    items[(index + 1) % items.length]?.focus();
  } else if (event.key === "ArrowUp") {
    event.preventDefault();
    items[(index - 1 + items.length) % items.length]?.focus();
  } else if (event.key === "Tab") {
    closeMenu({ restoreFocus: false });
  }
}

function messageActions(msg) {
  const actions = [];
  if (msg.pending || msg.failed || !msg.seq) return actions;
  const cancelled = msg.state === "cancelled";
  const system = isSystem(msg);
  if (!system && !cancelled) actions.push(["reply", "reply", () => setReply(msg)]);
  if (!system && !cancelled && msg.type === "talk" && msg.body) {
    actions.push(["copy", "copy", () => copyMessage(msg)]);
  }
  if (FILE_TYPES.has(msg.type) && !cancelled && msg.state !== "expired") {
    actions.push(["forward", "forward", () => openForward(msg)]);
  }
  if (!system) actions.push(["readers", "eye", () => showReaders(msg)]);
  actions.push(["delete", "trash", () => deleteForMe(msg)]);
  const young = Date.now() - Date.parse(msg.created) < CANCEL_WINDOW_MS;
  if (isMine(msg) && !system && !cancelled && young) {
    actions.push(["cancel", "undo", () => cancelForEveryone(msg), true]);
  }
  return actions;
}

function openMessageMenu(msg, position) {
  const actions = messageActions(msg);
  if (!actions.length) return;
  const menu = $("msg-menu");
  menu.dataset.msgId = msg.msg_id;
  menu.replaceChildren(
    ...actions.map(([action, iconName, run, danger]) =>
      el(
        "button",
        {
          type: "button",
          role: "menuitem",
          className: `menu-item${danger ? " is-danger" : ""}`,
          dataset: { action },
          onclick: () => {
            closeMenu({ restoreFocus: false });
            run();
          },
        },
        icon(iconName),
        el("span", { text: t(`action.${action}`) }),
      ),
    ),
  );
  showMenu(menu, position);
}

// --- message actions -----------------------------------------------------------------------------

function setReply(msg) {
  const chat = state.chat;
  if (chat) chat.replyTo = msg;
  const bar = $("reply-bar");
  bar.hidden = !msg;
  if (!msg) return;
  $("reply-bar-who").textContent = t("reply.to", { name: msg.sender_name || msg.sender || "" });
  $("reply-bar-body").textContent = previewOf(msg);
  $("composer-input").focus();
}

async function copyMessage(msg) {
  toast((await copyText(msg.body || "")) ? t("toast.copied") : t("toast.copyFailed"));
}

async function showReaders(msg) {
  const dialog = $("readers-dialog");
  $("readers-read").replaceChildren();
  $("readers-unread").replaceChildren();
  $("readers-read-title").textContent = t("readers.read", { n: "…" });
  $("readers-unread-title").textContent = t("readers.unread", { n: "…" });
  $("readers-status").textContent = t("common.loading");
  dialog.dataset.msgId = msg.msg_id;
  if (!dialog.open) dialog.showModal();
  try {
    const data = await api("GET", `/api/messages/${encodeURIComponent(msg.msg_id)}/readers`);
    const row = (person) =>
      el(
        "li",
        { className: "reader", dataset: { userId: person.user_id } },
        avatarFor(person.name, person.user_id),
        el("span", { text: person.name }),
      );
    $("readers-read").replaceChildren(...data.read.map(row));
    $("readers-unread").replaceChildren(...data.unread.map(row));
    $("readers-read-title").textContent = t("readers.read", { n: data.read.length });
    $("readers-unread-title").textContent = t("readers.unread", { n: data.unread.length });
    $("readers-status").textContent = "";
  } catch (error) {
    $("readers-status").textContent = error.message;
  }
}

async function deleteForMe(msg) {
  const ok = await confirmDialog(t("confirm.delete"), t("action.delete"));
  if (!ok) return;
  try {
    await api("DELETE", `/api/messages/${encodeURIComponent(msg.msg_id)}`);
    state.chat?.messages.delete(msg.msg_id);
    renderMessages();
  } catch (error) {
    toast(error.message, true);
  }
}

async function cancelForEveryone(msg) {
  const ok = await confirmDialog(t("confirm.cancel"), t("action.cancel"));
  if (!ok) return;
  try {
    const data = await api("POST", `/api/messages/${encodeURIComponent(msg.msg_id)}/cancel`);
    onPushMessageUpdated(data);
  } catch (error) {
    toast(error.message, true);
  }
}

// Forward a sent file to another room: a "flink" message that points at the stored file.
function openForward(msg) {
  const dialog = $("forward-dialog");
  $("forward-status").textContent = "";
  const rooms = [...state.rooms.values()].sort((a, b) => roomActivity(b) - roomActivity(a));
  $("forward-rooms").replaceChildren(
    ...rooms.map((room) => {
      const avatar = el("span", { className: "avatar avatar-sm", "aria-hidden": "true" });
      roomAvatar(avatar, room);
      return el(
        "li",
        {},
        el(
          "button",
          {
            type: "button",
            className: "person",
            dataset: { roomId: String(room.room_id) },
            onclick: () => forwardTo(msg, room),
          },
          avatar,
          el("span", { className: "person-name", text: room.name }),
        ),
      );
    }),
  );
  dialog.showModal();
}

async function forwardTo(msg, room) {
  $("forward-status").textContent = t("forward.sending");
  try {
    const stored = await wsRequest("send_msg", files.forwardPayload(msg, room.room_id, newUuid()));
    noteMessageInList(stored);
    if (state.chat?.roomId === stored.room_id) {
      mergeMessages(state.chat, [stored]);
      renderMessages();
    }
    $("forward-dialog").close();
    toast(t("forward.done", { room: room.name }));
  } catch (error) {
    $("forward-status").textContent = error.message;
  }
}

// --- room actions --------------------------------------------------------------------------------

function currentRoom() {
  return state.chat ? state.rooms.get(state.chat.roomId) : null;
}

function openRoomMenu(event) {
  const room = currentRoom();
  if (!room) return;
  $("room-mute-text").textContent = room.muted ? t("room.unmute") : t("room.mute");
  showMenu($("room-menu"), { anchor: event.currentTarget });
}

function openRename() {
  const room = currentRoom();
  if (!room) return;
  const dialog = $("rename-dialog");
  $("rename-input").value = room.nickname || "";
  $("rename-input").placeholder = room.room_name || room.name;
  const master = room.kind === "group" && state.me && room.master === state.me.user_id;
  $("rename-all-field").hidden = !master;
  $("rename-all").checked = false;
  $("rename-status").textContent = "";
  dialog.showModal();
  $("rename-input").select();
}

async function saveRename(event) {
  event.preventDefault();
  const room = currentRoom();
  if (!room) return;
  const value = $("rename-input").value.trim();
  const forAll = $("rename-all").checked && value;
  const body = forAll ? { name: value, nickname: "" } : { nickname: value };
  try {
    const updated = await api("PATCH", `/api/rooms/${room.room_id}`, body);
    updateRoom(updated);
    $("rename-dialog").close();
  } catch (error) {
    $("rename-status").textContent = error.message;
  }
}

function updateRoom(updated) {
  const known = state.rooms.get(updated.room_id);
  state.rooms.set(updated.room_id, {
    ...(known || {}),
    ...updated,
    members: updated.members.slice(0, 6),
  });
  renderRooms();
  renderChatHeader();
}

async function toggleMute() {
  const room = currentRoom();
  if (!room) return;
  try {
    const updated = await api("PATCH", `/api/rooms/${room.room_id}`, { muted: !room.muted });
    updateRoom(updated);
    toast(updated.muted ? t("toast.muted") : t("toast.unmuted"));
  } catch (error) {
    toast(error.message, true);
  }
}

async function leaveRoom() {
  const room = currentRoom();
  if (!room) return;
  const ok = await confirmDialog(t("confirm.leave", { room: room.name }), t("room.leave"));
  if (!ok) return;
  try {
    await api("POST", `/api/rooms/${room.room_id}/leave`);
    state.rooms.delete(room.room_id);
    state.drafts.delete(room.room_id);
    saveDrafts();
    closeChat();
  } catch (error) {
    toast(error.message, true);
  }
}

async function inviteToRoom() {
  const room = currentRoom();
  const chat = state.chat;
  if (!room || !chat) return;
  const exclude = new Set(chat.members ? chat.members.keys() : room.members.map((m) => m.user_id));
  const picked = await people.pick({ mode: "invite", exclude });
  if (!picked) return;
  const data = await api("POST", `/api/rooms/${room.room_id}/invite`, {
    user_ids: picked.userIds,
  });
  updateRoom(data.room);
  if (data.room.room_id !== room.room_id) {
    // Inviting into a 1:1 room starts a new group.
    openRoom(data.room.room_id);
    return;
  }
  if (data.message && state.chat === chat) {
    mergeMessages(chat, [data.message]);
    renderMessages({ toBottom: true });
    loadMembers(chat).catch(() => {});
  }
}

// Start a 1:1 chat (one person) or a group (several), then open it.
async function startChat(userIds, name = "") {
  const room = await api("POST", "/api/rooms", { member_ids: userIds, name });
  updateRoom(room);
  selectTab("chats");
  await openRoom(room.room_id);
  return room;
}

// --- the confirm dialog ------------------------------------------------------------------------

function confirmDialog(text, okLabel) {
  const dialog = $("confirm-dialog");
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  dialog.showModal();
  $("confirm-cancel").focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

// --- sending -----------------------------------------------------------------------------------

function sendFromComposer() {
  const chat = state.chat;
  const input = $("composer-input");
  const body = input.value;
  if (!chat || !state.me || !body.trim()) return;
  input.value = "";
  state.drafts.delete(chat.roomId);
  saveDrafts();
  state.localOrder += 1;
  const reply = chat.replyTo;
  const msg = {
    msg_id: newUuid(),
    room_id: chat.roomId,
    seq: null,
    sender: state.me.user_id,
    sender_name: state.me.name,
    type: "talk",
    body,
    meta: {},
    reply_to: reply
      ? {
          msg_id: reply.msg_id,
          seq: reply.seq,
          sender: reply.sender,
          sender_name: reply.sender_name,
          type: reply.type,
          body: (reply.body || "").slice(0, 100),
          meta: reply.meta,
          state: reply.state,
        }
      : null,
    state: "",
    created: new Date().toISOString(),
    unread: 0,
    pending: true,
    failed: false,
    localOrder: state.localOrder,
  };
  setReply(null);
  state.outbox.set(msg.msg_id, msg);
  chat.messages.set(msg.msg_id, msg);
  chat.newBelow = 0;
  renderNewBar();
  renderMessages({ toBottom: true });
  // Stored before the first try, so a reload a moment later still has it.
  outboxPut(state.me.user_id, msg).finally(() => trySend(msg));
}

// Send (or resend: the server stores a msg_id once) and merge the stored message from the ack.
async function trySend(msg) {
  if (msg.inflight || !state.outbox.has(msg.msg_id)) return;
  msg.inflight = true;
  msg.failed = false;
  msg.pending = true;
  if (state.chat?.roomId === msg.room_id) renderMessages();
  try {
    const data = { room_id: msg.room_id, msg_id: msg.msg_id, type: msg.type, body: msg.body };
    if (msg.reply_to) data.reply_to = msg.reply_to.msg_id;
    const stored = await wsRequest("send_msg", data);
    state.outbox.delete(msg.msg_id);
    outboxDelete(msg.msg_id);
    noteMessageInList(stored);
    const chat = state.chat;
    if (chat?.roomId === stored.room_id) {
      mergeMessages(chat, [stored]);
      renderMessages();
    }
  } catch (error) {
    // Offline or no answer: it stays "sending" and goes again after the reconnect.
    if (NETWORK_CODES.has(error.code)) return;
    markFailed(msg, error.message);
  } finally {
    msg.inflight = false;
  }
}

function markFailed(msg, reason) {
  msg.pending = false;
  msg.failed = true;
  msg.error = reason;
  if (state.me) outboxPut(state.me.user_id, msg);
  if (state.chat?.roomId === msg.room_id) renderMessages();
}

// After a (re)connect: send what waits, unless it has waited so long that it may be stale.
function flushOutbox() {
  for (const msg of state.outbox.values()) {
    if (msg.failed) continue;
    if (Date.now() - Date.parse(msg.created) > OUTBOX_AUTO_RESEND_MS) {
      markFailed(msg, t("outbox.stale"));
    } else trySend(msg);
  }
}

function retry(msg) {
  msg.failed = false;
  msg.pending = true;
  msg.created = new Date().toISOString();
  if (state.me) outboxPut(state.me.user_id, msg);
  trySend(msg);
}

function discard(msg) {
  state.outbox.delete(msg.msg_id);
  outboxDelete(msg.msg_id);
  state.chat?.messages.delete(msg.msg_id);
  renderMessages();
}

async function loadOutbox() {
  const entries = await outboxAll(state.me.user_id);
  for (const entry of entries) {
    if (state.outbox.has(entry.msg_id)) continue;
    state.localOrder = Math.max(state.localOrder, entry.localOrder || 0);
    state.outbox.set(entry.msg_id, {
      ...entry,
      seq: null,
      sender: state.me.user_id,
      sender_name: state.me.name,
      meta: {},
      state: "",
      unread: 0,
      pending: !entry.failed,
    });
  }
  const chat = state.chat;
  if (chat) {
    for (const msg of state.outbox.values()) {
      if (msg.room_id === chat.roomId && !chat.messages.has(msg.msg_id)) {
        chat.messages.set(msg.msg_id, msg);
      }
    }
    renderMessages();
  }
}

function saveDraft() {
  const chat = state.chat;
  if (!chat) return;
  const text = $("composer-input").value;
  if (text) state.drafts.set(chat.roomId, text);
  else state.drafts.delete(chat.roomId);
  saveDrafts();
}

const lastTypingSent = new Map();
let draftTimer = null;

function onComposerInput() {
  const chat = state.chat;
  if (!chat) return;
  clearTimeout(draftTimer);
  draftTimer = setTimeout(saveDraft, 400);
  const now = Date.now();
  if (!sock.ws || !$("composer-input").value) return;
  if (now - (lastTypingSent.get(chat.roomId) || 0) < TYPING_SEND_MS) return;
  lastTypingSent.set(chat.roomId, now);
  wsRequest("typing", { room_id: chat.roomId }).catch(() => {});
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
    error.textContent = t("login.missing");
    error.hidden = false;
    return;
  }
  $("login-submit").disabled = true;
  error.hidden = true;
  // A click is the moment a browser lets a page ask for notifications.
  if ("Notification" in window && Notification.permission === "default") {
    Notification.requestPermission().catch(() => {});
  }
  try {
    const response = await rawFetch("POST", "/api/auth/token", {
      user_id: userId,
      password,
      kind: "web",
    });
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
  // Already logged out: requests that were in flight answer 401 and a refresh fails after the
  // session ended; the first reason (e.g. "disabled" from the socket's 4003) stays on the form.
  if (!$("login-view").hidden) return;
  disconnectSocket();
  tokens.clear();
  cacheClear();
  clearTimeout(roomsReload);
  roomsReload = null;
  state.me = null;
  state.rooms = new Map();
  state.chat = null;
  state.outbox.clear();
  state.drafts.clear();
  files.reset();
  people.reset();
  $("room-list").replaceChildren();
  $("message-list").replaceChildren();
  $("chat").hidden = true;
  $("chat-empty").hidden = false;
  document.title = t("app.name");
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  closeMenu({ restoreFocus: false });
  $("toast").hidden = true;
  showLogin(message);
}

function setMe(me) {
  state.me = me;
  cacheSave(CACHE_KEYS.me, me);
  $("me-name").textContent = me.name;
  $("me-org").textContent = me.nickname || [me.org_name, me.job].filter(Boolean).join(" · ");
  $("me-org").title = [me.org_name, me.job].filter(Boolean).join(" · ");
  fillAvatar($("me-avatar"), me.name, me.user_id);
  document.body.dataset.me = me.user_id;
  settings.update(me);
}

async function startApp() {
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  setConn("connecting");
  let me = null;
  try {
    me = await api("GET", "/api/me");
  } catch (error) {
    // api() has already sent us to the login form, or we logged out while it was on its way
    if (error.status === 401 || error.code === LOGGED_OUT) return;
    if (!tokens.access) return;
    // Offline at start (a reload while the network is down): carry on from what this tab knew.
    me = NETWORK_CODES.has(error.code) ? cacheLoad(CACHE_KEYS.me) : null;
    if (!me) {
      setConn("failed", error.message);
      setTimeout(() => tokens.access && !state.me && startApp(), 5000);
      return;
    }
    setConn("offline", t("conn.offline"));
  }
  setMe(me);
  state.drafts = new Map(
    Object.entries(cacheLoad(CACHE_KEYS.drafts) || {}).map(([k, v]) => [Number(k), v]),
  );
  for (const room of cacheLoad(CACHE_KEYS.rooms) || []) state.rooms.set(room.room_id, room);
  renderRooms();
  selectTab(cacheLoad(CACHE_KEYS.tab) || "chats");
  await loadOutbox();
  if (state.me !== me) return; // logged out meanwhile
  const lastOpen = cacheLoad(CACHE_KEYS.open);
  if (lastOpen && state.rooms.has(lastOpen)) openRoom(lastOpen);
  loadRooms().catch((error) => {
    if (!NETWORK_CODES.has(error.code) && error.code !== LOGGED_OUT) {
      setConn("offline", error.message);
    }
  });
  connectSocket();
}

// --- wiring --------------------------------------------------------------------------------------

function wire() {
  applyI18n(document);
  $("login-form").addEventListener("submit", onLogin);
  $("logout-btn").addEventListener("click", () => {
    // The server revokes this device's refresh token and ends its session; the tab does not wait.
    logoutOnServer();
    logout();
  });
  $("new-chat-btn").addEventListener("click", async () => {
    const picked = await people.pick({ mode: "new" });
    if (picked) await startChat(picked.userIds, picked.name);
  });
  for (const tab of TABS) {
    $(`tab-${tab}`).addEventListener("click", () => selectTab(tab));
    $(`tab-${tab}`).addEventListener("keydown", onTabKey);
  }
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
    } else if (event.key === "Escape" && state.chat?.replyTo) {
      setReply(null);
    }
  });
  $("composer-input").addEventListener("input", onComposerInput);
  $("message-scroller").addEventListener("scroll", onScroll);
  $("new-msg-bar").addEventListener("click", () => {
    const scroller = $("message-scroller");
    scroller.scrollTop = scroller.scrollHeight;
    onScroll();
    $("composer-input").focus();
  });
  $("reply-cancel").addEventListener("click", () => setReply(null));
  $("room-menu-btn").addEventListener("click", openRoomMenu);
  $("room-invite-btn").addEventListener("click", () =>
    inviteToRoom().catch((error) => toast(error.message, true)),
  );
  $("room-invite-menu-btn").addEventListener("click", () => {
    closeMenu({ restoreFocus: false });
    inviteToRoom().catch((error) => toast(error.message, true));
  });
  $("room-rename-btn").addEventListener("click", () => {
    closeMenu({ restoreFocus: false });
    openRename();
  });
  $("room-mute-btn").addEventListener("click", () => {
    closeMenu();
    toggleMute();
  });
  $("room-leave-btn").addEventListener("click", () => {
    closeMenu({ restoreFocus: false });
    leaveRoom();
  });
  $("rename-form").addEventListener("submit", saveRename);
  $("rename-cancel").addEventListener("click", () => $("rename-dialog").close());
  $("readers-close").addEventListener("click", () => $("readers-dialog").close());
  $("forward-close").addEventListener("click", () => $("forward-dialog").close());
  for (const menu of [$("room-menu"), $("msg-menu")]) menu.addEventListener("keydown", onMenuKey);
  document.addEventListener("pointerdown", (event) => {
    if (openMenuState && !openMenuState.menu.contains(event.target)) {
      closeMenu({ restoreFocus: false });
    }
  });
  window.addEventListener("resize", () => closeMenu({ restoreFocus: false }));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.chat) markRead(state.chat);
    reportFocus({ delay: FOCUS_DEBOUNCE_MS });
  });
  window.addEventListener("focus", () => {
    if (state.chat) markRead(state.chat);
    reportFocus({ delay: FOCUS_DEBOUNCE_MS });
  });
  window.addEventListener("blur", () => reportFocus({ delay: FOCUS_DEBOUNCE_MS }));
  window.addEventListener("pagehide", () => {
    if (roomsSaveTimer) saveRooms();
    saveDraft();
  });
  window.addEventListener("online", () => {
    if (!sock.stopped && !sock.ws) connectSocket();
  });
  const lostMessages = { disabled: "error.disabled", signed_out: "error.signedOut" };
  setAuthLostHandler((reason) => logout(t(lostMessages[reason] || "error.loginExpiredAgain")));
  const app = {
    state,
    api,
    toast,
    startChat,
    openRoom,
    selectTab,
    setMe,
    confirmDialog,
    isConnected: () => Boolean(sock.ws),
    // A new password makes this socket's token stale: the socket waits while the password is
    // changed, then reconnects with the new tokens.
    pauseSocket: disconnectSocket,
    resumeSocket() {
      if (!tokens.access) return;
      sock.attempts = 0;
      connectSocket();
    },
    onUploaded(msg) {
      noteMessageInList(msg);
      if (state.chat?.roomId === msg.room_id) {
        mergeMessages(state.chat, [msg]);
        renderMessages({ toBottom: true });
      }
    },
  };
  people.init(app);
  settings.init(app);
  files.init(app);
}

// --- ERP sign-on: /#erp_ticket=<ticket> (docs/sso.md) ------------------------------------------

// The ticket the ERP put in the fragment (never sent to a server), taken out of the address bar
// and the history at once, so that neither a bookmark nor Back shows it.
function takeErpTicket() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const ticket = params.get("erp_ticket");
  if (ticket === null) return null;
  history.replaceState(history.state, "", `${location.pathname}${location.search}`);
  return ticket;
}

async function signOnWithTicket(ticket) {
  $("login-view").hidden = true;
  try {
    const response = await rawFetch("POST", "/api/auth/erp", { ticket, kind: "web" });
    if (!response.ok) throw await readError(response);
    const data = await response.json();
    // The ERP says who is here now: whatever this tab knew of someone else goes.
    tokens.clear();
    cacheClear();
    tokens.save({ access: data.access, refresh: data.refresh });
    await startApp();
  } catch (failure) {
    if (tokens.access) startApp();
    else showLogin(failure.message);
  }
}

wire();
window.addEventListener("hashchange", () => {
  const ticket = takeErpTicket();
  // Signed in already (the portal reopened this window): the ticket is not needed.
  if (ticket && !$("login-view").hidden) signOnWithTicket(ticket);
});
const oidc = await takeOidcResult();
const erpTicket = takeErpTicket();
if (oidc?.error) showLogin(oidc.error);
else if (erpTicket) signOnWithTicket(erpTicket);
else if (tokens.access) startApp();
else showLogin();
