// The Settings tab: my status line (nickname) and notification settings (GET/PATCH /api/me),
// and this browser's permission to show notifications.

import { t } from "./i18n.js";
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
  renderPermission();
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
