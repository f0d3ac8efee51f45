// Small helpers shared by the client's modules: DOM building (text only), times, ids, avatars.
//
// Nothing here ever parses a string as HTML: el() sets text through textContent and text nodes,
// and attributes through setAttribute.

import { lang, t } from "./i18n.js";

export const $ = (id) => document.getElementById(id);

export function el(tag, props = {}, ...children) {
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

const SVG_NS = "http://www.w3.org/2000/svg";

// An icon from the sprite in the page (templates/messenger/icons.svg).
export function icon(name, className = "") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("aria-hidden", "true");
  if (className) svg.setAttribute("class", className);
  const use = document.createElementNS(SVG_NS, "use");
  use.setAttribute("href", `#i-${name}`);
  svg.append(use);
  return svg;
}

const URL_RE = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;

// A message body as text nodes, with http(s) links made clickable (href checked, never markup).
export function bodyNodes(text) {
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

const locale = lang === "ko" ? "ko-KR" : "en-US";
export const fmtClock = new Intl.DateTimeFormat(locale, { hour: "numeric", minute: "2-digit" });
export const fmtDay = new Intl.DateTimeFormat(locale, {
  year: "numeric",
  month: "long",
  day: "numeric",
  weekday: "long",
});
const fmtMonthDay = new Intl.DateTimeFormat(locale, { month: "long", day: "numeric" });
const fmtFullDate = new Intl.DateTimeFormat(locale, {
  year: "numeric",
  month: "numeric",
  day: "numeric",
});
export const fmtDateTime = new Intl.DateTimeFormat(locale, {
  month: "numeric",
  day: "numeric",
  hour: "numeric",
  minute: "2-digit",
});

export const dayKey = (date) => `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;

export function listTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const now = new Date();
  if (dayKey(date) === dayKey(now)) return fmtClock.format(date);
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (dayKey(date) === dayKey(yesterday)) return t("time.yesterday");
  if (date.getFullYear() === now.getFullYear()) return fmtMonthDay.format(date);
  return fmtFullDate.format(date);
}

export function formatSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 100 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

// --- ids ---------------------------------------------------------------------------------------

// crypto.randomUUID exists only in secure contexts; an intranet server on plain http is not one.
export function newUuid() {
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

export function initials(name) {
  const clean = (name || "?").trim();
  // Korean names: the given name (last two syllables) is what colleagues call each other.
  if (HANGUL.test(clean) && clean.length >= 3) return clean.slice(-2);
  if (HANGUL.test(clean)) return clean;
  const words = clean.split(/\s+/).filter(Boolean);
  return words.slice(0, 2).map((w) => [...w][0].toUpperCase()).join("") || "?";
}

export function colorFor(key) {
  let hash = 0;
  for (const ch of String(key)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return AVATAR_COLORS[hash % AVATAR_COLORS.length];
}

export function fillAvatar(node, name, key) {
  node.textContent = initials(name);
  node.style.backgroundColor = colorFor(key || name);
  node.dataset.len = String(node.textContent.length);
}

export function avatarFor(name, key, className = "avatar avatar-sm") {
  const node = el("span", { className, "aria-hidden": "true" });
  fillAvatar(node, name, key);
  return node;
}

// --- clipboard -----------------------------------------------------------------------------------

// navigator.clipboard needs a secure context; an intranet page on plain http falls back to the
// old copy command on a hidden text area.
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // fall back below
    }
  }
  const area = el("textarea", { readonly: true, className: "visually-hidden" });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}
