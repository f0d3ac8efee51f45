// Message previews, and the former local notification rules (from the person's settings and
// the room's mute). The full client now shows the server's `notify` pushes instead
// (docs/notifications.md); static/messenger/embed.js still carries a copy of these few lines.

import { t } from "./i18n.js";

const SYSTEM_TYPES = new Set(["invite", "leave", "notice"]);

function minutes(hhmm) {
  const match = /^(\d{1,2}):(\d{2})/.exec(hhmm || "");
  return match ? Number(match[1]) * 60 + Number(match[2]) : null;
}

// Quiet hours are "HH:MM" to "HH:MM" in local time and may cross midnight (22:00 to 07:00).
export function inQuietHours(me, now = new Date()) {
  const from = minutes(me?.quiet_from);
  const to = minutes(me?.quiet_to);
  if (from === null || to === null || from === to) return false;
  const current = now.getHours() * 60 + now.getMinutes();
  return from < to ? current >= from && current < to : current >= from || current < to;
}

export function previewOf(msg) {
  if (!msg) return "";
  if (msg.state === "cancelled") return t("msg.cancelled");
  if (msg.type === "image") return t("preview.image");
  if (msg.type === "file" || msg.type === "flink") {
    const name = msg.meta?.file?.name || msg.body || "";
    return `${t("preview.file")} ${name}`.trim();
  }
  return (msg.body || "").replace(/\s+/g, " ").trim();
}

// {title, body} for a message, or null when no notification is due.
export function notificationFor({ me, room, msg, viewing, now = new Date() }) {
  if (!me || !msg || msg.sender === me.user_id) return null;
  if (SYSTEM_TYPES.has(msg.type) || msg.state === "cancelled") return null;
  if (room?.muted || me.notify_off || viewing || inQuietHours(me, now)) return null;
  let title;
  if (me.hide_sender) title = t("app.name");
  else if (room?.kind === "group") title = `${msg.sender_name || msg.sender} · ${room.name}`;
  else title = msg.sender_name || msg.sender || t("app.name");
  const body = me.hide_body ? t("notify.hiddenBody") : previewOf(msg).slice(0, 140);
  return { title, body };
}
