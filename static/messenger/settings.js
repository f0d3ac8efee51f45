// The Settings tab: my status line (nickname) and notification settings (GET/PATCH /api/me),
// this browser's permission to show notifications, my password (POST /api/me/password) and my
// signed-in devices (GET/DELETE /api/me/sessions): the lost phone is signed out from here.

import { tokens } from "./api.js";
import { lang, t } from "./i18n.js";
import { $ } from "./util.js";

let app = null;
let dirty = false;

// The time zones offered: this browser's own first, then common ones; a saved zone not in
// the list is added when the form shows it.
const COMMON_ZONES = [
  "Asia/Seoul",
  "Asia/Tokyo",
  "UTC",
  "Europe/London",
  "America/New_York",
  "America/Los_Angeles",
];

function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return "";
  }
}

function addZoneOption(select, zone, label = zone) {
  if (!zone || [...select.options].some((option) => option.value === zone)) return;
  const option = document.createElement("option");
  option.value = zone;
  option.textContent = label;
  select.append(option);
}

function fillZones() {
  const select = $("set-time-zone");
  const own = browserZone();
  addZoneOption(select, own, t("settings.timeZoneBrowser", { zone: own }));
  for (const zone of COMMON_ZONES) addZoneOption(select, zone);
}

export function init(context) {
  app = context;
  fillZones();
  const form = $("settings-form");
  form.addEventListener("submit", save);
  form.addEventListener("input", () => {
    dirty = true;
    syncQuiet();
  });
  $("set-quiet-on").addEventListener("change", () => {
    if ($("set-quiet-on").checked && !$("set-quiet-from").value && !$("set-quiet-to").value) {
      $("set-quiet-from").value = "22:00";
      $("set-quiet-to").value = "07:00";
    }
    syncQuiet();
  });
  $("password-form").addEventListener("submit", changePassword);
  $("sessions-end-others").addEventListener("click", endOtherSessions);
  $("notify-permission-btn").addEventListener("click", async () => {
    if ("Notification" in window) await Notification.requestPermission().catch(() => {});
    renderPermission();
  });
}

function syncQuiet() {
  const on = $("set-quiet-on").checked;
  $("set-quiet-from").disabled = !on;
  $("set-quiet-to").disabled = !on;
  $("quiet-times").dataset.on = String(on);
}

// The form shows the saved settings, unless I am in the middle of changing them.
export function update(me) {
  if (dirty) return;
  $("set-nickname").value = me.nickname || "";
  $("set-notify-off").checked = Boolean(me.notify_off);
  $("set-hide-body").checked = Boolean(me.hide_body);
  $("set-hide-sender").checked = Boolean(me.hide_sender);
  $("set-notify-mentions").checked = me.notify_mentions !== false;
  if (me.time_zone) {
    addZoneOption($("set-time-zone"), me.time_zone);
    $("set-time-zone").value = me.time_zone;
  }
  const changeable = me.credentials_changeable !== false;
  $("password-managed").hidden = changeable;
  $("password-fields").hidden = !changeable;
  const quiet = Boolean(me.quiet_from && me.quiet_to);
  $("set-quiet-on").checked = quiet;
  $("set-quiet-from").value = quiet ? me.quiet_from : "";
  $("set-quiet-to").value = quiet ? me.quiet_to : "";
  syncQuiet();
}

export function show() {
  dirty = false;
  if (app.state.me) update(app.state.me);
  $("settings-status").textContent = "";
  $("password-status").textContent = "";
  $("sessions-status").textContent = "";
  renderPermission();
  loadSessions();
}

function renderPermission() {
  const text = $("notify-permission");
  const button = $("notify-permission-btn");
  if (!("Notification" in window)) {
    text.textContent = t("settings.browserUnsupported");
    button.hidden = true;
    return;
  }
  const permission = Notification.permission;
  text.textContent = t(`settings.browser.${permission}`);
  text.dataset.permission = permission;
  button.hidden = permission !== "default";
}

async function save(event) {
  event.preventDefault();
  const status = $("settings-status");
  status.classList.remove("is-error");
  const quietOn = $("set-quiet-on").checked;
  const from = $("set-quiet-from").value;
  const to = $("set-quiet-to").value;
  if (quietOn && (!from || !to)) {
    status.textContent = t("settings.quietBoth");
    status.classList.add("is-error");
    return;
  }
  const changes = {
    nickname: $("set-nickname").value.trim(),
    notify_off: $("set-notify-off").checked,
    hide_body: $("set-hide-body").checked,
    hide_sender: $("set-hide-sender").checked,
    notify_mentions: $("set-notify-mentions").checked,
    quiet_from: quietOn ? from.slice(0, 5) : null,
    quiet_to: quietOn ? to.slice(0, 5) : null,
  };
  const zone = $("set-time-zone").value;
  if (zone) changes.time_zone = zone;
  $("settings-save").disabled = true;
  status.textContent = t("common.saving");
  try {
    const me = await app.api("PATCH", "/api/me", changes);
    dirty = false;
    app.setMe(me);
    status.textContent = t("settings.saved");
  } catch (error) {
    status.textContent = error.message;
    status.classList.add("is-error");
  } finally {
    $("settings-save").disabled = false;
  }
}

// --- my password ----------------------------------------------------------------------------

function setStatus(id, text, isError = false) {
  const status = $(id);
  status.textContent = text;
  status.classList.toggle("is-error", isError);
}

async function changePassword(event) {
  event.preventDefault();
  const old = $("pw-old").value;
  const fresh = $("pw-new").value;
  if (!old || !fresh) {
    setStatus("password-status", t("settings.passwordMissing"), true);
    return;
  }
  if (fresh !== $("pw-new2").value) {
    setStatus("password-status", t("settings.passwordMismatch"), true);
    return;
  }
  $("password-save").disabled = true;
  setStatus("password-status", t("common.saving"));
  // The socket's token carries the old password's stamp: it waits, then reconnects.
  app.pauseSocket();
  try {
    const answer = await app.api("POST", "/api/me/password", {
      old_password: old,
      new_password: fresh,
    });
    tokens.save({ access: answer.access, refresh: answer.refresh });
    for (const id of ["pw-old", "pw-new", "pw-new2"]) $(id).value = "";
    setStatus("password-status", t("settings.passwordChanged"));
    loadSessions();
  } catch (error) {
    setStatus("password-status", error.message, true);
  } finally {
    $("password-save").disabled = false;
    app.resumeSocket();
  }
}

// --- my signed-in devices -------------------------------------------------------------------

function when(value) {
  try {
    return new Date(value).toLocaleString(lang, { dateStyle: "short", timeStyle: "short" });
  } catch {
    return String(value);
  }
}

function deviceName(session) {
  const kind = t(`settings.kind.${session.kind}`);
  return `${session.browser || t("settings.unknownBrowser")} (${kind})`;
}

function methodName(method) {
  const key = `settings.method.${method}`;
  const said = t(key);
  return said === key ? method : said;
}

function sessionItem(session) {
  const item = document.createElement("li");
  item.className = "session-item";
  item.dataset.sessionId = String(session.id);
  item.dataset.current = String(session.current);
  const text = document.createElement("div");
  text.className = "session-text";
  const name = document.createElement("div");
  name.className = "session-name";
  // Browser names come from User-Agent headers: text only, never markup.
  name.textContent = deviceName(session);
  const meta = document.createElement("div");
  meta.className = "session-meta";
  meta.textContent = t("settings.deviceMeta", {
    method: methodName(session.method),
    address: session.address || "-",
    since: when(session.since),
    seen: when(session.last_seen),
  });
  text.append(name, meta);
  item.append(text);
  if (session.current) {
    const here = document.createElement("span");
    here.className = "session-here";
    here.textContent = t("settings.thisDevice");
    item.append(here);
  } else {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-small";
    button.textContent = t("settings.signOut");
    button.setAttribute("aria-label", t("settings.signOutLabel", { device: deviceName(session) }));
    button.addEventListener("click", () => endSession(session, button));
    item.append(button);
  }
  return item;
}

async function loadSessions() {
  try {
    const { sessions } = await app.api("GET", "/api/me/sessions");
    $("sessions-list").replaceChildren(...sessions.map(sessionItem));
    $("sessions-end-others").hidden = !sessions.some((s) => !s.current);
  } catch (error) {
    setStatus("sessions-status", error.message, true);
  }
}

async function endSession(session, button) {
  button.disabled = true;
  try {
    await app.api("DELETE", `/api/me/sessions/${session.id}`);
    setStatus("sessions-status", t("settings.signedOut", { device: deviceName(session) }));
  } catch (error) {
    setStatus("sessions-status", error.message, true);
  }
  await loadSessions();
}

async function endOtherSessions() {
  $("sessions-end-others").disabled = true;
  try {
    const { ended } = await app.api("DELETE", "/api/me/sessions");
    setStatus("sessions-status", t("settings.signedOutOthers", { n: ended }));
  } catch (error) {
    setStatus("sessions-status", error.message, true);
  } finally {
    $("sessions-end-others").disabled = false;
  }
  await loadSessions();
}
