/* The messenger inside an ERP portal page, with one script tag:

     <script src="https://chat.example.com/static/messenger/embed.js"
             data-messenger-url="https://chat.example.com" defer></script>

   Across all open tabs of the portal only one tab (the leader) holds the WebSocket. The leader
   is elected with the Web Locks API (a lock held for the life of the tab, handed to the next
   waiting tab when it closes); without Web Locks, with BroadcastChannel heartbeats. The leader
   passes what it learns to the other tabs over BroadcastChannel; every tab shows the unread
   count (a badge and document.title), and the leader shows desktop notifications.

   When the full messenger is open in some window (the server allows one "web" connection per
   person), the leader stands by: it watches the unread count over REST and takes the socket
   back when that window closes. See docs/embed.md for the attributes and the token, and
   docs/sso.md for signing in with the ERP's own login (data-sso-ticket-url).

   Everything shown is inserted as text, never as markup. This is a classic script (no
   imports), so that an ERP page needs nothing but the tag. */
(() => {
  "use strict";

  if (window.MessengerEmbed) return;

  const script = document.currentScript;
  const scriptUrl = script?.src ? new URL(script.src, location.href) : new URL(location.href);
  const data = script?.dataset || {};
  const config = {
    url: (data.messengerUrl || scriptUrl.origin).replace(/\/+$/, ""),
    tokenProvider: data.tokenProvider || "",
    // The ERP's URL that answers {ticket} for the person logged in to the ERP (docs/sso.md).
    ssoTicketUrl: data.ssoTicketUrl || "",
    target: data.badgeTarget || "",
    title: data.title !== "off",
    notifications: data.notifications !== "off",
  };

  const NS = `messenger-embed:${config.url}`;
  const TOKENS_KEY = `${NS}:tokens`;
  const LOCK_NAME = `${NS}:leader`;
  const HEARTBEAT_MS = 1500;
  const LEADER_TIMEOUT_MS = 4500;
  const ALIVE_MS = 25_000;
  const STANDBY_POLL_MS = 15_000;
  const MAX_BACKOFF_MS = 30_000;
  const SYSTEM_TYPES = new Set(["invite", "leave", "notice"]);

  // --- words ---------------------------------------------------------------------------------

  const WORDS = {
    ko: {
      name: "메신저",
      login: "메신저 로그인",
      userId: "아이디",
      password: "비밀번호",
      submit: "로그인",
      logout: "로그아웃",
      open: "메신저 열기",
      allow: "알림 허용",
      unread: "안 읽은 메시지 {n}개",
      none: "새 메시지가 없습니다.",
      online: "연결됨",
      standby: "메신저 창에서 받는 중",
      offline: "연결 끊김, 다시 연결하는 중",
      connecting: "연결하는 중",
      loggedOut: "로그인하지 않았습니다.",
      disabled: "계정이 사용 중지되었습니다.",
      hidden: "새 메시지가 도착했습니다.",
      image: "사진",
      file: "파일:",
      cancelled: "삭제된 메시지입니다.",
      failed: "로그인하지 못했습니다.",
    },
    en: {
      name: "Messenger",
      login: "Log in to Messenger",
      userId: "User ID",
      password: "Password",
      submit: "Log in",
      logout: "Log out",
      open: "Open Messenger",
      allow: "Allow notifications",
      unread: "{n} unread",
      none: "No new messages.",
      online: "Connected",
      standby: "Received by the Messenger window",
      offline: "Disconnected, reconnecting",
      connecting: "Connecting",
      loggedOut: "Not logged in.",
      disabled: "Your account is disabled.",
      hidden: "A new message has arrived.",
      image: "Photo",
      file: "File:",
      cancelled: "This message was deleted.",
      failed: "Could not log in.",
    },
  };
  const lang = (navigator.language || "ko").toLowerCase().startsWith("ko") ? "ko" : "en";
  const say = (key, vars = {}) =>
    (WORDS[lang][key] || key).replace(/\{(\w+)\}/g, (whole, name) =>
      name in vars ? String(vars[name]) : whole,
    );

  // --- shared state, as every tab shows it --------------------------------------------------

  const tabId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  const view = {
    role: "follower", // "leader" holds (or stands by for) the socket
    status: "connecting", // connecting | online | offline | standby | logged_out | disabled
    unread: 0,
    rooms: [], // [{room_id, name, unread}] with unread, for the little panel
  };
  let lastLeaderSeen = 0;
  let lastLeaderConnected = false;
  const channel = "BroadcastChannel" in window ? new BroadcastChannel(NS) : null;

  function post(message) {
    if (channel) channel.postMessage({ ...message, from: tabId });
  }

  // --- tokens: localStorage of this portal origin, shared by its tabs ------------------------

  const tokens = {
    load() {
      try {
        return JSON.parse(localStorage.getItem(TOKENS_KEY)) || {};
      } catch {
        return {};
      }
    },
    save(values) {
      localStorage.setItem(TOKENS_KEY, JSON.stringify({ ...this.load(), ...values }));
    },
    clear() {
      localStorage.removeItem(TOKENS_KEY);
    },
  };

  function expiresWithin(access, ms) {
    if (!access) return true;
    try {
      const part = access.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const padded = part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=");
      const payload = JSON.parse(atob(padded));
      return !payload.exp || payload.exp * 1000 < Date.now() + ms;
    } catch {
      return true;
    }
  }

  // A usable access token, renewed when needed: from the refresh token, else from the portal's
  // token provider. null means "log in first".
  async function accessToken({ force = false } = {}) {
    const saved = tokens.load();
    if (!force && saved.access && !expiresWithin(saved.access, 60_000)) return saved.access;
    if (saved.refresh) {
      const response = await request("POST", "/api/auth/token/refresh", {
        body: { refresh: saved.refresh },
        auth: false,
      });
      if (response.ok) {
        const fresh = await response.json();
        // Logged out (here or in another tab) or renewed elsewhere meanwhile: keep what is
        // stored, so a late answer cannot log a person back in.
        const now = tokens.load();
        if (now.refresh !== saved.refresh) return now.access || null;
        tokens.save({ access: fresh.access, ...(fresh.refresh ? { refresh: fresh.refresh } : {}) });
        return fresh.access;
      }
      if (response.status >= 500) throw new Error("server");
    }
    if (config.ssoTicketUrl) {
      const access = await ssoSignOn();
      if (access) return access;
    }
    const provider = config.tokenProvider && window[config.tokenProvider];
    if (typeof provider === "function") {
      const given = await provider();
      const value = typeof given === "string" ? { access: given } : given || {};
      if (value.access) {
        tokens.save({ access: value.access, refresh: value.refresh || "" });
        return value.access;
      }
    }
    tokens.clear();
    return null;
  }

  // A fresh sign-on ticket from the ERP, asked with the ERP's own session cookie; null when the
  // ERP says nobody is logged in there. Network failures throw (the leader retries).
  async function erpTicket() {
    const response = await fetch(new URL(config.ssoTicketUrl, location.href).href, {
      headers: { Accept: "application/json" },
      credentials: "include",
      cache: "no-store",
    });
    if (response.status >= 500) throw new Error("erp");
    if (!response.ok) return null;
    const body = await response.json().catch(() => ({}));
    return typeof body?.ticket === "string" && body.ticket ? body.ticket : null;
  }

  // Signs in with an ERP ticket (POST /api/auth/erp): the new access token, or null.
  async function ssoSignOn() {
    const ticket = await erpTicket();
    if (!ticket) return null;
    const response = await request("POST", "/api/auth/erp", {
      body: { ticket, kind: "web" },
      auth: false,
    });
    if (response.status >= 500) throw new Error("server");
    if (!response.ok) return null;
    const fresh = await response.json();
    tokens.save({ access: fresh.access, refresh: fresh.refresh });
    return fresh.access;
  }

  async function request(method, path, { body, auth = true } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth) headers.Authorization = `Bearer ${tokens.load().access || ""}`;
    return fetch(`${config.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      mode: "cors",
      credentials: "omit",
    });
  }

  async function api(path, method = "GET") {
    let response = await request(method, path);
    if (response.status === 401) {
      if (!(await accessToken({ force: true }))) {
        throw Object.assign(new Error("auth"), { auth: true });
      }
      response = await request(method, path);
    }
    if (!response.ok) throw new Error(`http ${response.status}`);
    return response.json();
  }

  // --- the badge (in a shadow root, so the portal's styles and ours stay apart) -------------

  const host = document.createElement("div");
  host.id = "messenger-embed";
  const shadow = host.attachShadow({ mode: "open" });
  // A constructed style sheet, not a <style> element: a portal whose Content-Security-Policy
  // forbids inline styles (as ours does on the demo page) still shows the badge.
  const css = `
    :host { all: initial; font-family: "Pretendard", "Apple SD Gothic Neo", "Malgun Gothic",
      "Noto Sans KR", "NanumGothic", system-ui, sans-serif; font-size: 14px; color: #1d2430; }
    :host([data-floating]) { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; }
    .wrap { position: relative; display: inline-block; }
    button { font: inherit; cursor: pointer; }
    .badge { display: inline-flex; align-items: center; gap: 6px; padding: 7px 12px;
      border: 0; border-radius: 999px; background: #ffe45e; color: #1d2430; font-weight: 700;
      box-shadow: 0 2px 8px rgb(29 36 48 / 18%); }
    .badge:focus-visible, .panel button:focus-visible, .panel input:focus-visible {
      outline: 2px solid #3563e9; outline-offset: 2px; }
    .badge svg { width: 18px; height: 18px; }
    .count { min-width: 18px; height: 18px; padding: 0 5px; border-radius: 9px;
      background: #f04438; color: #fff; font-size: 11px; line-height: 18px; text-align: center; }
    .count[hidden], [hidden] { display: none !important; }
    .dot { width: 8px; height: 8px; border-radius: 50%; background: #98a2b3; }
    :host([data-status="online"]) .dot, :host([data-status="standby"]) .dot { background: #12b76a; }
    .panel { position: absolute; right: 0; top: calc(100% + 8px); width: 280px; padding: 12px;
      border-radius: 12px; background: #fff; box-shadow: 0 12px 36px rgb(29 36 48 / 22%);
      display: grid; gap: 8px; z-index: 1; }
    :host([data-floating]) .panel { top: auto; bottom: calc(100% + 8px); }
    .status { margin: 0; font-size: 12px; color: #5f6b7a; }
    ul { list-style: none; margin: 0; padding: 0; display: grid; gap: 4px; }
    li { display: flex; justify-content: space-between; gap: 8px; font-size: 13px; }
    li span:first-child { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    li span:last-child { color: #f04438; font-weight: 700; }
    form { display: grid; gap: 6px; }
    label { display: grid; gap: 2px; font-size: 12px; color: #5f6b7a; }
    input { font: inherit; padding: 7px 9px; border: 1px solid #cfd7e1; border-radius: 8px; }
    .row { display: flex; gap: 6px; justify-content: flex-end; flex-wrap: wrap; }
    .primary { padding: 7px 12px; border: 0; border-radius: 8px; background: #3563e9; color: #fff;
      font-weight: 600; }
    .plain { padding: 7px 12px; border: 1px solid #e3e8ee; border-radius: 8px; background: #fff; }
    .error { margin: 0; font-size: 12px; color: #d92d20; }
    .toast { position: absolute; right: 0; top: calc(100% + 8px); width: 260px; padding: 10px 12px;
      border-radius: 10px; background: #1d2430; color: #fff; font-size: 13px;
      box-shadow: 0 8px 24px rgb(29 36 48 / 25%); }
    :host([data-floating]) .toast { top: auto; bottom: calc(100% + 8px); }
    :host([data-align-start]) .panel, :host([data-align-start]) .toast { right: auto; left: 0; }
    .toast strong { display: block; margin-bottom: 2px; }
    .toast span { display: block; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  `;
  const make = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    node.append(...children.filter(Boolean));
    return node;
  };
  const svgNs = "http://www.w3.org/2000/svg";
  const bubbleIcon = document.createElementNS(svgNs, "svg");
  bubbleIcon.setAttribute("viewBox", "0 0 24 24");
  bubbleIcon.setAttribute("aria-hidden", "true");
  const bubblePath = document.createElementNS(svgNs, "path");
  bubblePath.setAttribute(
    "d",
    "M12 4c5 0 9 3.1 9 7s-4 7-9 7c-.9 0-1.8-.1-2.6-.3L5 20l.9-3.7C4.1 15 3 13.1 3 11" +
      "c0-3.9 4-7 9-7z",
  );
  bubblePath.setAttribute("fill", "none");
  bubblePath.setAttribute("stroke", "currentColor");
  bubblePath.setAttribute("stroke-width", "1.8");
  bubbleIcon.append(bubblePath);

  const countEl = make("span", { class: "count", id: "messenger-embed-count", hidden: true });
  const labelEl = make("span", { class: "label", text: say("name") });
  const badge = make(
    "button",
    {
      type: "button",
      class: "badge",
      id: "messenger-embed-button",
      "aria-haspopup": "dialog",
      "aria-expanded": "false",
      onclick: () => togglePanel(),
    },
    make("span", { class: "dot", "aria-hidden": "true" }),
    bubbleIcon,
    labelEl,
    countEl,
  );
  const statusEl = make("p", { class: "status", id: "messenger-embed-status", role: "status" });
  const roomsEl = make("ul", { id: "messenger-embed-rooms" });
  const errorEl = make("p", { class: "error", role: "alert", hidden: true });
  const userInput = make("input", {
    name: "user_id",
    autocomplete: "username",
    id: "messenger-embed-user",
  });
  const passwordInput = make("input", {
    name: "password",
    type: "password",
    autocomplete: "current-password",
    id: "messenger-embed-password",
  });
  const loginForm = make(
    "form",
    { id: "messenger-embed-login", onsubmit: onLoginSubmit },
    make("label", {}, make("span", { text: say("userId") }), userInput),
    make("label", {}, make("span", { text: say("password") }), passwordInput),
    errorEl,
    make(
      "div",
      { class: "row" },
      make("button", { type: "submit", class: "primary", text: say("submit") }),
    ),
  );
  const allowButton = make("button", {
    type: "button",
    class: "plain",
    text: say("allow"),
    hidden: true,
    onclick: async () => {
      await Notification.requestPermission().catch(() => {});
      render();
    },
  });
  const actions = make(
    "div",
    { class: "row", id: "messenger-embed-actions" },
    allowButton,
    make("button", { type: "button", class: "plain", text: say("logout"), onclick: logout }),
    make("button", {
      type: "button",
      class: "primary",
      text: say("open"),
      onclick: () => openMessenger(),
    }),
  );
  const panel = make(
    "div",
    {
      class: "panel",
      id: "messenger-embed-panel",
      role: "dialog",
      "aria-label": say("name"),
      hidden: true,
    },
    statusEl,
    roomsEl,
    loginForm,
    actions,
  );
  const toastEl = make("div", { class: "toast", role: "status", hidden: true });
  if ("adoptedStyleSheets" in shadow && typeof CSSStyleSheet.prototype.replaceSync === "function") {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    shadow.adoptedStyleSheets = [sheet];
  } else {
    shadow.append(make("style", { text: css }));
  }
  shadow.append(make("div", { class: "wrap" }, badge, panel, toastEl));

  function mount() {
    const target = config.target ? document.querySelector(config.target) : null;
    if (target) target.append(host);
    else {
      host.setAttribute("data-floating", "");
      document.body.append(host);
    }
  }

  // The panel and the toast hang from the badge's right edge, opening leftwards; a badge near
  // the page's left side (a portal's sidebar) would push them off screen, so there they hang
  // from its left edge instead.
  const POPUP_ROOM_PX = 296;
  function alignPopups() {
    host.toggleAttribute("data-align-start", host.getBoundingClientRect().right < POPUP_ROOM_PX);
  }

  function togglePanel(open = panel.hidden) {
    if (open) alignPopups();
    panel.hidden = !open;
    badge.setAttribute("aria-expanded", String(open));
    if (open) {
      render();
      (view.status === "logged_out" ? userInput : badge).focus();
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) {
      togglePanel(false);
      badge.focus();
    }
  });
  document.addEventListener("pointerdown", (event) => {
    if (!panel.hidden && !event.composedPath().includes(host)) togglePanel(false);
  });

  const badgeText = (n) => (n > 999 ? "999+" : String(n));
  const TITLE_PREFIX = /^\(\d+\+?\) /;

  function render() {
    host.dataset.role = view.role;
    host.dataset.status = view.status;
    host.dataset.unread = String(view.unread);
    countEl.hidden = !view.unread;
    countEl.textContent = view.unread ? badgeText(view.unread) : "";
    badge.setAttribute(
      "aria-label",
      view.unread ? `${say("name")}, ${say("unread", { n: view.unread })}` : say("name"),
    );
    const loggedOut = view.status === "logged_out" && !config.tokenProvider;
    loginForm.hidden = !loggedOut;
    actions.hidden = loggedOut;
    roomsEl.hidden = loggedOut;
    const words = {
      online: "online",
      standby: "standby",
      offline: "offline",
      connecting: "connecting",
      logged_out: "loggedOut",
      disabled: "disabled",
    };
    statusEl.textContent = [
      say(words[view.status] || "connecting"),
      view.unread ? say("unread", { n: view.unread }) : say("none"),
    ].join(" · ");
    roomsEl.replaceChildren(
      ...view.rooms.slice(0, 6).map((room) =>
        make(
          "li",
          {},
          make("span", { text: room.name }),
          make("span", { text: badgeText(room.unread) }),
        ),
      ),
    );
    allowButton.hidden = !("Notification" in window) || Notification.permission !== "default";
    if (config.title) {
      const base = document.title.replace(TITLE_PREFIX, "");
      const wanted = view.unread ? `(${badgeText(view.unread)}) ${base}` : base;
      if (document.title !== wanted) document.title = wanted;
    }
    document.dispatchEvent(
      new CustomEvent("messenger:unread", { detail: { unread: view.unread, status: view.status } }),
    );
  }

  function showToast(title, body) {
    if (document.visibilityState !== "visible") return;
    toastEl.replaceChildren(make("strong", { text: title }), make("span", { text: body }));
    alignPopups();
    toastEl.hidden = false;
    clearTimeout(showToast.timer);
    showToast.timer = setTimeout(() => {
      toastEl.hidden = true;
    }, 5000);
  }

  // --- log in, log out, open -------------------------------------------------------------------

  async function onLoginSubmit(event) {
    event.preventDefault();
    errorEl.hidden = true;
    if ("Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().catch(() => {});
    }
    try {
      const response = await request("POST", "/api/auth/token", {
        body: { user_id: userInput.value.trim(), password: passwordInput.value, kind: "web" },
        auth: false,
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body?.error?.message || say("failed"));
      tokens.save({ access: body.access, refresh: body.refresh });
      passwordInput.value = "";
      togglePanel(false);
      view.status = "connecting";
      render();
      post({ t: "login" });
      if (leader.active) leader.start();
    } catch (error) {
      errorEl.textContent = error.message || say("failed");
      errorEl.hidden = false;
    }
  }

  function logout() {
    // The server revokes the refresh token and ends this sign-in (every portal tab shares it).
    const refresh = tokens.load().refresh;
    if (refresh) {
      request("POST", "/api/auth/logout", { body: { refresh }, auth: false }).catch(() => {});
    }
    tokens.clear();
    post({ t: "logout" });
    onLoggedOut();
  }

  function onLoggedOut(status = "logged_out") {
    if (leader.active) leader.stop();
    Object.assign(view, { status, unread: 0, rooms: [] });
    render();
  }

  // With ERP sign-on the window opens signed in: a fresh ticket travels in the URL's fragment
  // (never sent to a server), and the messenger takes it out of the address bar at once.
  async function openMessenger() {
    togglePanel(false);
    let ticket = null;
    if (config.ssoTicketUrl) ticket = await erpTicket().catch(() => null);
    const fragment = ticket ? `#erp_ticket=${encodeURIComponent(ticket)}` : "";
    window.open(`${config.url}/${fragment}`, "messenger-client");
  }

  // --- notification rules (the same as static/messenger/rules.js) --------------------------------

  function minutes(hhmm) {
    const match = /^(\d{1,2}):(\d{2})/.exec(hhmm || "");
    return match ? Number(match[1]) * 60 + Number(match[2]) : null;
  }

  function inQuietHours(me, now = new Date()) {
    const from = minutes(me?.quiet_from);
    const to = minutes(me?.quiet_to);
    if (from === null || to === null || from === to) return false;
    const current = now.getHours() * 60 + now.getMinutes();
    return from < to ? current >= from && current < to : current >= from || current < to;
  }

  function previewOf(msg) {
    if (msg.state === "cancelled") return say("cancelled");
    if (msg.type === "image") return say("image");
    if (msg.type === "file" || msg.type === "flink") {
      return `${say("file")} ${msg.meta?.file?.name || ""}`.trim();
    }
    return (msg.body || "").replace(/\s+/g, " ").trim();
  }

  function notificationFor(me, room, msg) {
    if (!me || msg.sender === me.user_id || SYSTEM_TYPES.has(msg.type)) return null;
    if (msg.state === "cancelled" || room?.muted || me.notify_off || inQuietHours(me)) return null;
    let title;
    if (me.hide_sender) title = say("name");
    else if (room?.kind === "group") title = `${msg.sender_name || msg.sender} · ${room.name}`;
    else title = msg.sender_name || msg.sender || say("name");
    return { title, body: me.hide_body ? say("hidden") : previewOf(msg).slice(0, 140) };
  }

  // --- the leader: the one socket ----------------------------------------------------------------

  const leader = {
    active: false,
    ws: null,
    me: null,
    rooms: new Map(),
    attempts: 0,
    aliveTimer: null,
    retryTimer: null,
    pollTimer: null,
    heartbeatTimer: null,
    nextId: 0,
    attempt: 0, // bumped by every connect and stop: a late ticket opens no socket

    // I was elected: tell the others, then connect (or stand by for the messenger window).
    async take() {
      this.active = true;
      view.role = "leader";
      if (view.status !== "logged_out") view.status = "connecting";
      render();
      this.heartbeatTimer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
      this.heartbeat();
      await this.start();
    },

    heartbeat() {
      post({ t: "hb", connected: Boolean(this.ws), state: publicState() });
    },

    async start() {
      this.stopSocket();
      clearTimeout(this.pollTimer);
      let access;
      try {
        access = await accessToken();
      } catch {
        this.offline();
        return;
      }
      if (!access) {
        onLoggedOut();
        this.broadcast();
        return;
      }
      // Taking over from a tab that held the socket: connect at once. Otherwise, if the full
      // messenger is open somewhere, do not push it off the server: stand by.
      const takingOver = lastLeaderConnected && Date.now() - lastLeaderSeen < 10_000;
      try {
        await this.refresh();
      } catch (error) {
        if (error.auth) {
          onLoggedOut();
          this.broadcast();
        } else this.offline();
        return;
      }
      if (!takingOver && this.me?.kinds?.includes("web")) this.standby();
      else this.connect();
    },

    async refresh() {
      const [me, list] = await Promise.all([api("/api/me"), api("/api/rooms")]);
      this.me = me;
      this.rooms = new Map(list.rooms.map((room) => [room.room_id, room]));
      this.broadcast();
    },

    standby(delay = STANDBY_POLL_MS) {
      view.status = "standby";
      this.broadcast();
      clearTimeout(this.pollTimer);
      this.pollTimer = setTimeout(async () => {
        if (!this.active) return;
        try {
          await this.refresh();
        } catch {
          // keep standing by; the next poll tries again
        }
        if (!this.active || view.status !== "standby") return;
        if (this.me?.kinds?.includes("web")) this.standby();
        else this.connect();
      }, delay);
    },

    offline() {
      view.status = "offline";
      this.broadcast();
      const ceiling = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** this.attempts);
      this.attempts += 1;
      clearTimeout(this.retryTimer);
      const wait = ceiling / 2 + Math.random() * (ceiling / 2);
      this.retryTimer = setTimeout(() => this.active && this.start(), wait);
    },

    // The socket opens with a single-use ticket, not the token: proxies log URLs.
    async connect() {
      clearTimeout(this.pollTimer);
      view.status = "connecting";
      this.broadcast();
      this.attempt += 1;
      const attempt = this.attempt;
      let ticket;
      try {
        ({ ticket } = await api("/api/auth/ws-ticket", "POST"));
      } catch (error) {
        if (attempt !== this.attempt || !this.active) return;
        if (error.auth) {
          onLoggedOut();
          this.broadcast();
        } else this.offline();
        return;
      }
      if (attempt !== this.attempt || !this.active || this.ws) return;
      const socketUrl = new URL(`${config.url}/ws/`);
      socketUrl.protocol = socketUrl.protocol === "https:" ? "wss:" : "ws:";
      socketUrl.searchParams.set("kind", "web");
      socketUrl.searchParams.set("ticket", ticket);
      const ws = new WebSocket(socketUrl.href);
      this.ws = ws;
      ws.addEventListener("open", () => {
        if (this.ws !== ws) return;
        this.send("alive", {});
        this.aliveTimer = setInterval(() => this.send("alive", {}), ALIVE_MS);
      });
      ws.addEventListener("message", (event) => {
        if (this.ws === ws) this.onFrame(event.data);
      });
      ws.addEventListener("close", (event) => {
        if (this.ws !== ws) return;
        this.ws = null;
        clearInterval(this.aliveTimer);
        if (!this.active) return;
        if (event.code === 4002) this.standby();
        else if (event.code === 4003) {
          tokens.clear();
          post({ t: "logout", status: "disabled" });
          onLoggedOut("disabled");
        } else if (event.code === 4001) {
          accessToken({ force: true }).then(
            (access) => (access ? this.connect() : (onLoggedOut(), this.broadcast())),
            () => this.offline(),
          );
        } else this.offline();
      });
    },

    send(ev, payload) {
      if (this.ws?.readyState === WebSocket.OPEN) {
        this.nextId += 1;
        this.ws.send(JSON.stringify({ id: `e${this.nextId}`, ev, data: payload }));
      }
    },

    onFrame(text) {
      let frame;
      try {
        frame = JSON.parse(text);
      } catch {
        return;
      }
      if (!frame || typeof frame !== "object") return;
      if ("ack" in frame) {
        if (frame.ok && view.status !== "online") {
          // The first answer: the socket is usable. Catch up on what happened meanwhile.
          this.attempts = 0;
          view.status = "online";
          this.refresh().catch(() => this.broadcast());
        }
        return;
      }
      const handler = PUSHES[frame.ev];
      if (handler && frame.data && typeof frame.data === "object") {
        handler.call(this, frame.data);
        this.broadcast();
      }
    },

    stopSocket() {
      this.attempt += 1;
      clearInterval(this.aliveTimer);
      clearTimeout(this.retryTimer);
      const ws = this.ws;
      this.ws = null;
      if (ws) ws.close(1000, "bye");
    },

    stop() {
      this.stopSocket();
      clearTimeout(this.pollTimer);
      this.me = null;
      this.rooms = new Map();
    },

    broadcast() {
      const rooms = [...this.rooms.values()];
      view.unread = rooms.reduce((sum, room) => sum + (room.muted ? 0 : room.unread), 0);
      view.rooms = rooms
        .filter((room) => room.unread > 0 && !room.muted)
        .map((room) => ({ room_id: room.room_id, name: room.name, unread: room.unread }));
      render();
      post({ t: "state", state: publicState(), connected: Boolean(this.ws) });
    },
  };

  function publicState() {
    return { status: view.status, unread: view.unread, rooms: view.rooms };
  }

  // Pushes the leader understands, as a table; "this" is the leader.
  const PUSHES = {
    message(msg) {
      const room = this.rooms.get(msg.room_id);
      if (!room) {
        this.refresh().catch(() => {});
        return;
      }
      if (msg.seq > room.last_seq) {
        room.last_seq = msg.seq;
        room.last_message = msg;
      }
      if (this.me && msg.sender === this.me.user_id) {
        room.last_read_seq = Math.max(room.last_read_seq, msg.seq);
      }
      room.unread = Math.max(room.last_seq - room.last_read_seq, 0);
      const content = notificationFor(this.me, room, msg);
      if (content) {
        post({ t: "toast", ...content });
        showToast(content.title, content.body);
        const allowed = "Notification" in window && Notification.permission === "granted";
        if (config.notifications && allowed) {
          try {
            const note = new Notification(content.title, {
              body: content.body,
              tag: `${NS}:room-${msg.room_id}`,
            });
            note.addEventListener("click", () => {
              window.focus();
              openMessenger();
              note.close();
            });
          } catch {
            // notifications only from a service worker in this browser: the badge still shows
          }
        }
      }
    },
    read({ room_id: roomId, user_id: userId, seq }) {
      const room = this.rooms.get(roomId);
      if (!room || !this.me || userId !== this.me.user_id) return;
      room.last_read_seq = Math.max(room.last_read_seq, seq);
      room.unread = Math.max(room.last_seq - room.last_read_seq, 0);
    },
    room_updated(room) {
      this.rooms.set(room.room_id, room);
    },
    room_removed({ room_id: roomId }) {
      this.rooms.delete(roomId);
    },
  };

  // --- messages between tabs -------------------------------------------------------------------

  if (channel) {
    channel.addEventListener("message", (event) => {
      const message = event.data;
      if (!message || typeof message !== "object" || message.from === tabId) return;
      switch (message.t) {
        case "hb":
        case "state":
          lastLeaderSeen = Date.now();
          lastLeaderConnected = Boolean(message.connected);
          if (message.t === "hb" && leader.active && !locksAvailable && message.from < tabId) {
            resign(); // two leaders after a split: the older id keeps it
          }
          if (!leader.active && message.state) {
            Object.assign(view, message.state);
            render();
          }
          break;
        case "hello":
          if (leader.active) leader.broadcast();
          break;
        case "toast":
          if (!leader.active) showToast(message.title, message.body);
          break;
        case "login":
          if (leader.active) leader.start();
          else {
            view.status = "connecting";
            render();
          }
          break;
        case "logout":
          onLoggedOut(message.status || "logged_out");
          break;
        case "bye":
          lastLeaderSeen = 0;
          if (!locksAvailable) setTimeout(claimIfLeaderless, 50);
          break;
        case "claim":
          claims.push({ from: message.from, at: message.at });
          break;
        default:
          break;
      }
    });
  }

  // --- election ----------------------------------------------------------------------------

  const locksAvailable = Boolean(navigator.locks?.request);
  const claims = [];
  let releaseLock = null;

  function elect() {
    if (locksAvailable) {
      // Granted at once to the first tab, and to the next waiting tab as soon as the holder's
      // tab goes away: the lock lives as long as this promise, i.e. as long as this tab.
      navigator.locks
        .request(LOCK_NAME, () =>
          new Promise((resolve) => {
            releaseLock = resolve;
            leader.take();
          }),
        )
        .catch(() => {});
    } else {
      setInterval(claimIfLeaderless, 1000);
      setTimeout(claimIfLeaderless, LEADER_TIMEOUT_MS / 2);
    }
  }

  // The BroadcastChannel fallback: no heartbeat for a while means no leader; claim, wait a
  // moment for rival claims, and the earliest claim (then the smallest id) wins.
  function claimIfLeaderless() {
    if (leader.active || Date.now() - lastLeaderSeen < LEADER_TIMEOUT_MS) return;
    const mine = { from: tabId, at: Date.now() };
    claims.length = 0;
    post({ t: "claim", at: mine.at });
    setTimeout(() => {
      const rivals = claims.filter(
        (c) => c.at < mine.at || (c.at === mine.at && c.from < mine.from),
      );
      if (!rivals.length && Date.now() - lastLeaderSeen >= LEADER_TIMEOUT_MS && !leader.active) {
        leader.take();
      }
    }, 400);
  }

  function resign() {
    leader.stop();
    leader.active = false;
    clearInterval(leader.heartbeatTimer);
    view.role = "follower";
    render();
    if (releaseLock) {
      releaseLock();
      releaseLock = null;
    }
  }

  // Back on the portal while standing by: look again at once whether the messenger window is
  // still open, rather than at the next poll.
  window.addEventListener("focus", () => {
    if (leader.active && view.status === "standby") leader.standby(0);
  });

  window.addEventListener("pagehide", () => {
    if (leader.active) {
      post({ t: "bye" });
      leader.stopSocket();
    }
  });

  // --- start -------------------------------------------------------------------------------

  window.MessengerEmbed = Object.freeze({
    get unread() {
      return view.unread;
    },
    get status() {
      return view.status;
    },
    get role() {
      return view.role;
    },
    open: openMessenger,
    logout,
  });

  function start() {
    mount();
    const signsOnItself = config.tokenProvider || config.ssoTicketUrl;
    if (!tokens.load().access && !tokens.load().refresh && !signsOnItself) {
      view.status = "logged_out";
    }
    render();
    post({ t: "hello" });
    elect();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
