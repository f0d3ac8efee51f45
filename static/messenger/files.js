// Files: several at once from the button, drag-and-drop or paste, each with its own progress bar
// (XMLHttpRequest upload progress); images shown as thumbnails that open full size, other files
// as cards with name, size and expiry; forwarding a stored file to another room.
//
// The server side is POST /api/rooms/{room_id}/files (multipart: files, msg_ids; one file per
// request here, so each has its own progress), GET /api/files/{msg_id} and its /thumbnail, and
// send_msg type "flink" with source_msg_id. A file message carries meta.file = {name, size, mime,
// kind, width, height, thumbnail, expires}; a talk with a link may get meta.link, a preview card.
// Files are fetched with the Authorization header and shown from blob: URLs, because <img src>
// cannot send it.

import { apiBlob, upload } from "./api.js";
import { t } from "./i18n.js";
import { $, el, fmtDateTime, formatSize, icon, newUuid } from "./util.js";

let app = null;
const uploads = new Map(); // id -> {id, roomId, file, loaded, total, state, error, handle}
const thumbs = new Map(); // msg_id -> object URL (or a pending promise)
const THUMB_CACHE = 300;
const THUMB_BOX = 240;
let dragDepth = 0;
let viewerUrl = null;

export function init(context) {
  app = context;
  $("attach-btn").addEventListener("click", () => $("file-input").click());
  $("file-input").addEventListener("change", (event) => {
    const picked = [...event.currentTarget.files];
    event.currentTarget.value = "";
    sendFiles(picked);
  });
  const pane = $("chat");
  pane.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth += 1;
    $("drop-zone").hidden = false;
  });
  pane.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  pane.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) $("drop-zone").hidden = true;
  });
  pane.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth = 0;
    $("drop-zone").hidden = true;
    sendFiles([...event.dataTransfer.files]);
  });
  $("composer-input").addEventListener("paste", (event) => {
    const pasted = [...(event.clipboardData?.files || [])];
    if (!pasted.length) return;
    event.preventDefault();
    sendFiles(pasted);
  });
  $("viewer-close").addEventListener("click", () => $("image-viewer").close());
  $("image-viewer").addEventListener("click", (event) => {
    if (event.target === event.currentTarget) event.currentTarget.close();
  });
  $("image-viewer").addEventListener("close", () => {
    // Only the full-size copy is let go; a thumbnail shown meanwhile stays cached.
    if (viewerUrl) URL.revokeObjectURL(viewerUrl);
    viewerUrl = null;
    $("viewer-img").removeAttribute("src");
    const video = $("viewer-video");
    video.pause();
    video.removeAttribute("src");
    video.load();
  });
  $("viewer-download").addEventListener("click", () => {
    const viewer = $("image-viewer");
    download({ msg_id: viewer.dataset.msgId, meta: { file: { name: viewer.dataset.name } } });
  });
}

function hasFiles(event) {
  return Boolean(app.state.chat) && [...(event.dataTransfer?.types || [])].includes("Files");
}

export function reset() {
  for (const item of uploads.values()) item.handle?.abort();
  uploads.clear();
  for (const url of thumbs.values()) if (typeof url === "string") URL.revokeObjectURL(url);
  thumbs.clear();
  renderUploads();
}

// --- uploads -------------------------------------------------------------------------------------

function sendFiles(list) {
  const chat = app.state.chat;
  if (!chat || !list.length) return;
  for (const file of list) {
    const item = {
      id: newUuid(),
      msgId: newUuid(),
      roomId: chat.roomId,
      file,
      loaded: 0,
      total: file.size,
      state: "uploading",
      error: "",
      handle: null,
    };
    uploads.set(item.id, item);
    start(item);
  }
  renderUploads();
}

function start(item) {
  const form = new FormData();
  form.append("files", item.file, item.file.name);
  // The same msg_id on a retry lets the server store the file once.
  form.append("msg_ids", item.msgId);
  item.state = "uploading";
  item.error = "";
  item.loaded = 0;
  item.handle = upload(`/api/rooms/${item.roomId}/files`, form, (loaded, total) => {
    item.loaded = loaded;
    item.total = total;
    renderProgress(item);
  });
  item.handle.promise.then(
    (answer) => {
      uploads.delete(item.id);
      renderUploads();
      for (const msg of answer?.messages || []) if (msg?.msg_id && msg.seq) app.onUploaded(msg);
    },
    (error) => {
      if (error.code === "aborted") {
        uploads.delete(item.id);
      } else {
        item.state = "failed";
        item.error = error.message;
      }
      renderUploads();
    },
  );
}

export function showRoom() {
  renderUploads();
}

function renderUploads() {
  const roomId = app?.state.chat?.roomId;
  const list = $("upload-list");
  const items = [...uploads.values()].filter((item) => item.roomId === roomId);
  list.hidden = items.length === 0;
  list.replaceChildren(
    ...items.map((item) => {
      const progress = el("progress", {
        max: "100",
        value: String(percent(item)),
        "aria-label": t("files.progress", { name: item.file.name }),
      });
      const actions =
        item.state === "failed"
          ? [
              el("button", {
                type: "button",
                className: "link-btn",
                text: t("msg.retry"),
                onclick: () => {
                  start(item);
                  renderUploads();
                },
              }),
              el("button", {
                type: "button",
                className: "link-btn",
                text: t("msg.discard"),
                onclick: () => {
                  uploads.delete(item.id);
                  renderUploads();
                },
              }),
            ]
          : [
              el(
                "button",
                {
                  type: "button",
                  className: "icon-btn icon-btn-sm",
                  "aria-label": t("files.abort"),
                  title: t("files.abort"),
                  onclick: () => item.handle?.abort(),
                },
                icon("close"),
              ),
            ];
      return el(
        "li",
        { className: "upload", dataset: { uploadId: item.id, state: item.state } },
        icon("file", "upload-icon"),
        el(
          "div",
          { className: "upload-main" },
          el(
            "div",
            { className: "upload-top" },
            el("span", { className: "upload-name", text: item.file.name }),
            el("span", {
              className: "upload-size",
              text:
                item.state === "failed"
                  ? t("files.failed", { reason: item.error })
                  : `${formatSize(item.loaded)} / ${formatSize(item.total)}`,
            }),
          ),
          progress,
        ),
        ...actions,
      );
    }),
  );
}

function percent(item) {
  return item.total ? Math.round((item.loaded / item.total) * 100) : 0;
}

function renderProgress(item) {
  const row = $("upload-list").querySelector(`[data-upload-id="${CSS.escape(item.id)}"]`);
  if (!row) return;
  row.querySelector("progress").value = percent(item);
  row.querySelector(".upload-size").textContent =
    `${formatSize(item.loaded)} / ${formatSize(item.total)}`;
}

// --- showing files -------------------------------------------------------------------------

function fileOf(msg) {
  return msg.meta?.file || { name: msg.body || t("preview.file"), size: 0, mime: "" };
}

// Images, and videos with a poster frame, show as a picture; everything else as a card.
function isVisual(msg) {
  const file = fileOf(msg);
  if (msg.state === "expired" || file.thumbnail === false) return false;
  if (file.kind === "video") return file.thumbnail === true;
  return msg.type === "image" || file.kind === "image";
}

function expiryText(msg) {
  const file = fileOf(msg);
  if (msg.state === "expired") return t("files.expired");
  if (!file.expires) return "";
  const when = new Date(file.expires);
  if (Number.isNaN(when.getTime())) return "";
  if (when.getTime() < Date.now()) return t("files.expired");
  return t("files.expires", { when: fmtDateTime.format(when) });
}

export function renderFile(msg) {
  return isVisual(msg) ? renderImage(msg) : renderCard(msg);
}

function renderImage(msg) {
  const file = fileOf(msg);
  const longest = Math.max(file.width || THUMB_BOX, file.height || THUMB_BOX);
  const scale = Math.min(1, THUMB_BOX / longest);
  const width = Math.max(80, Math.round((file.width || THUMB_BOX) * scale));
  const height = Math.max(60, Math.round((file.height || THUMB_BOX * 0.75) * scale));
  const img = el("img", { alt: file.name || "", width: String(width), height: String(height) });
  const video = file.kind === "video";
  const button = el(
    "button",
    {
      type: "button",
      className: `thumb${video ? " thumb-video" : ""}`,
      title: file.name || "",
      "aria-label": t(video ? "files.playVideo" : "files.openImage", { name: file.name || "" }),
      onclick: () => openMedia(msg),
    },
    img,
    video ? el("span", { className: "play", "aria-hidden": "true" }) : null,
  );
  button.style.width = `${width}px`;
  button.style.height = `${height}px`;
  const cached = thumbs.get(msg.msg_id);
  if (typeof cached === "string") img.src = cached;
  else {
    button.classList.add("is-loading");
    loadThumb(msg).then(
      (url) => {
        img.src = url;
        button.classList.remove("is-loading");
      },
      () => {
        // No thumbnail (an old file, a format the server cannot shrink): show the card.
        button.replaceWith(renderCard(msg));
      },
    );
  }
  return el(
    "div",
    { className: "file-image", dataset: { fileName: file.name || "" } },
    button,
    el("span", {
      className: "file-info",
      text: [formatSize(file.size), expiryText(msg)].filter(Boolean).join(" · "),
    }),
  );
}

function loadThumb(msg) {
  let entry = thumbs.get(msg.msg_id);
  if (typeof entry === "string") return Promise.resolve(entry);
  if (!entry) {
    entry = apiBlob(`/api/files/${encodeURIComponent(msg.msg_id)}/thumbnail`).then(
      (blob) => {
        const url = URL.createObjectURL(blob);
        thumbs.set(msg.msg_id, url);
        if (thumbs.size > THUMB_CACHE) {
          const [oldest, old] = thumbs.entries().next().value;
          thumbs.delete(oldest);
          if (typeof old === "string") URL.revokeObjectURL(old);
        }
        return url;
      },
      (error) => {
        thumbs.delete(msg.msg_id);
        throw error;
      },
    );
    thumbs.set(msg.msg_id, entry);
  }
  return entry;
}

function renderCard(msg) {
  const file = fileOf(msg);
  const expired = msg.state === "expired" || expiryText(msg) === t("files.expired");
  return el(
    "div",
    {
      className: `file-card${expired ? " is-expired" : ""}`,
      dataset: { fileName: file.name || "" },
    },
    el("span", { className: "file-icon" }, icon("file")),
    el(
      "span",
      { className: "file-text" },
      el("span", { className: "file-name", text: file.name || t("preview.file") }),
      el("span", {
        className: "file-info",
        text: [formatSize(file.size), expiryText(msg)].filter(Boolean).join(" · "),
      }),
    ),
    expired
      ? null
      : el(
          "button",
          {
            type: "button",
            className: "icon-btn file-download",
            "aria-label": t("files.downloadName", { name: file.name || "" }),
            title: t("files.download"),
            onclick: () => download(msg),
          },
          icon("download"),
        ),
  );
}

// The full image (or the video, playable) in the viewer; the thumbnail stands in meanwhile.
async function openMedia(msg) {
  const viewer = $("image-viewer");
  const file = fileOf(msg);
  const video = file.kind === "video";
  viewer.dataset.msgId = msg.msg_id;
  viewer.dataset.name = file.name || "";
  $("viewer-name").textContent = file.name || "";
  const img = $("viewer-img");
  const player = $("viewer-video");
  img.alt = file.name || "";
  img.hidden = video;
  player.hidden = !video;
  const thumb = thumbs.get(msg.msg_id);
  if (typeof thumb === "string") {
    if (video) player.poster = thumb;
    else img.src = thumb;
  }
  viewer.showModal();
  try {
    const blob = await apiBlob(`/api/files/${encodeURIComponent(msg.msg_id)}`);
    if (!viewer.open || viewer.dataset.msgId !== msg.msg_id) return;
    if (viewerUrl) URL.revokeObjectURL(viewerUrl);
    viewerUrl = URL.createObjectURL(blob);
    if (video) player.src = viewerUrl;
    else img.src = viewerUrl;
  } catch (error) {
    app.toast(error.message, true);
  }
}

async function download(msg) {
  try {
    const blob = await apiBlob(`/api/files/${encodeURIComponent(msg.msg_id)}`);
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: fileOf(msg).name || "file" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (error) {
    app.toast(error.message, true);
  }
}

// The send_msg data that forwards a stored file into another room (no copy is made).
export function forwardPayload(msg, roomId, msgId) {
  return { room_id: roomId, msg_id: msgId, type: "flink", source_msg_id: msg.msg_id };
}

// --- link preview cards ----------------------------------------------------------------------

const PREVIEW_IMAGE = /^\/api\/link-previews\/[\w-]+\/image$/;

function safeHref(value) {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

// The card the server attached to a talk with a link (meta.link): title, description and site as
// text; the image only from the server's own preview endpoint, fetched with the token.
export function renderLink(msg) {
  const card = msg.meta?.link;
  const href = card && safeHref(card.url);
  if (!href || !(card.title || card.description)) return null;
  const link = el(
    "a",
    { className: "link-card", href, target: "_blank", rel: "noopener noreferrer" },
    el(
      "span",
      { className: "link-text" },
      card.site_name ? el("span", { className: "link-site", text: card.site_name }) : null,
      card.title ? el("strong", { className: "link-title", text: card.title }) : null,
      card.description ? el("span", { className: "link-desc", text: card.description }) : null,
    ),
  );
  if (typeof card.image === "string" && PREVIEW_IMAGE.test(card.image)) {
    const img = el("img", { alt: "", className: "link-image" });
    link.prepend(img);
    const cached = thumbs.get(card.image);
    if (typeof cached === "string") img.src = cached;
    else {
      apiBlob(card.image).then(
        (blob) => {
          const url = URL.createObjectURL(blob);
          thumbs.set(card.image, url);
          img.src = url;
        },
        () => img.remove(),
      );
    }
  }
  return link;
}
