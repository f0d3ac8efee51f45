// The People tab (the org tree from GET /api/org/tree and people search), a person's card, and
// the people picker used to start a chat, create a group or invite.

import { t } from "./i18n.js";
import { $, avatarFor, el, fillAvatar, icon } from "./util.js";

let app = null;
const org = {
  loaded: null, // promise of the tree
  nodes: new Map(), // org_cd -> {org_cd, name, level, parent, users, children}
  roots: [],
  people: new Map(), // user_id -> person
  open: new Set(), // expanded org_cds
};

export function init(context) {
  app = context;
  $("people-search").addEventListener("input", () => debounce("people", searchPeople, 250));
  $("people-search").addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.currentTarget.value = "";
      searchPeople();
    }
  });
  $("new-group-btn").addEventListener("click", async () => {
    const picked = await pick({ mode: "group" });
    if (picked) await app.startChat(picked.userIds, picked.name).catch(showError);
  });
  $("person-close").addEventListener("click", () => $("person-dialog").close());
  $("person-chat-btn").addEventListener("click", async () => {
    const userId = $("person-dialog").dataset.userId;
    $("person-dialog").close();
    await app.startChat([userId]).catch(showError);
  });
  $("picker-search").addEventListener("input", () => debounce("picker", renderPicker, 200));
  $("picker-cancel").addEventListener("click", () => $("picker-dialog").close());
  $("picker-form").addEventListener("submit", onPickerSubmit);
  $("picker-dialog").addEventListener("close", () => {
    const done = picker.resolve;
    picker.resolve = null;
    if (done) done(null);
  });
}

export function reset() {
  org.loaded = null;
  org.nodes.clear();
  org.roots = [];
  org.people.clear();
  org.open.clear();
  $("org-tree").replaceChildren();
  $("people-results").replaceChildren();
  $("people-search").value = "";
}

function showError(error) {
  app.toast(error.message, true);
}

const timers = new Map();

function debounce(key, work, ms) {
  clearTimeout(timers.get(key));
  timers.set(key, setTimeout(work, ms));
}

// --- the org tree ----------------------------------------------------------------------------

function loadTree() {
  if (!org.loaded) {
    org.loaded = app.api("GET", "/api/org/tree").then(
      (data) => {
        buildTree(data.orgs);
        return true;
      },
      (error) => {
        org.loaded = null;
        throw error;
      },
    );
  }
  return org.loaded;
}

function buildTree(orgs) {
  org.nodes.clear();
  org.people.clear();
  org.roots = [];
  // The answer is in SEQ order, so appending keeps siblings in the company's own order.
  for (const item of orgs) org.nodes.set(item.org_cd, { ...item, children: [] });
  for (const node of org.nodes.values()) {
    const parent = node.parent ? org.nodes.get(node.parent) : null;
    if (parent) parent.children.push(node);
    else org.roots.push(node);
    for (const person of node.users) org.people.set(person.user_id, person);
  }
  // Open the top level and the way down to my own team.
  for (const root of org.roots) org.open.add(root.org_cd);
  let mine = app.state.me ? org.nodes.get(app.state.me.org_cd) : null;
  while (mine) {
    org.open.add(mine.org_cd);
    mine = mine.parent ? org.nodes.get(mine.parent) : null;
  }
}

function headcount(node) {
  return node.users.length + node.children.reduce((sum, child) => sum + headcount(child), 0);
}

export async function show() {
  if (org.roots.length) return;
  $("people-status").textContent = t("common.loading");
  try {
    await loadTree();
    $("people-status").textContent = "";
    renderTree();
  } catch (error) {
    $("people-status").textContent = error.message;
  }
}

function renderTree() {
  $("org-tree").replaceChildren(...org.roots.map((node) => renderOrg(node)));
}

function renderOrg(node) {
  const open = org.open.has(node.org_cd);
  const groupId = `org-${node.org_cd}-members`;
  const toggle = el(
    "button",
    {
      type: "button",
      className: "org-toggle",
      "aria-expanded": String(open),
      "aria-controls": groupId,
      dataset: { orgCd: node.org_cd },
      onclick: () => {
        if (org.open.has(node.org_cd)) org.open.delete(node.org_cd);
        else org.open.add(node.org_cd);
        const item = toggle.closest("li");
        item.replaceWith(renderOrg(node));
        const selector = `.org-toggle[data-org-cd="${CSS.escape(node.org_cd)}"]`;
        $("org-tree").querySelector(selector)?.focus();
      },
    },
    icon("chevron", "chevron"),
    el("span", { className: "org-name", text: node.name }),
    el("span", { className: "org-count", text: String(headcount(node)) }),
  );
  const item = el(
    "li",
    { className: "org", dataset: { orgCd: node.org_cd, level: node.level } },
    toggle,
  );
  if (open) {
    const group = el("ul", { id: groupId, className: "org-children" });
    for (const person of node.users) group.append(el("li", {}, personButton(person)));
    for (const child of node.children) group.append(renderOrg(child));
    item.append(group);
  }
  return item;
}

function personButton(person, { sub = null } = {}) {
  const me = app.state.me && person.user_id === app.state.me.user_id;
  const subline = sub ?? [person.job, person.nickname].filter(Boolean).join(" · ");
  return el(
    "button",
    {
      type: "button",
      className: "person",
      dataset: { userId: person.user_id },
      onclick: () => openPerson(person),
    },
    avatarFor(person.name, person.user_id),
    el(
      "span",
      { className: "person-text" },
      el(
        "span",
        { className: "person-name" },
        me ? t("person.meName", { name: person.name }) : person.name,
        person.absence_text || person.absence_code
          ? el("span", {
              className: "person-absence",
              text: person.absence_text || person.absence_code,
            })
          : null,
      ),
      subline ? el("span", { className: "person-sub", text: subline }) : null,
    ),
    el("span", {
      className: "online-dot",
      hidden: !person.online,
      title: t("person.online"),
      "aria-label": t("person.online"),
      dataset: { online: String(Boolean(person.online)) },
    }),
  );
}

async function searchPeople() {
  const q = $("people-search").value.trim();
  const results = $("people-results");
  const status = $("people-status");
  const serial = (searchPeople.serial = (searchPeople.serial || 0) + 1);
  if (!q) {
    results.hidden = true;
    results.replaceChildren();
    $("org-tree").hidden = false;
    status.textContent = "";
    return;
  }
  status.textContent = t("people.searching");
  try {
    const data = await app.api("GET", `/api/users?q=${encodeURIComponent(q)}`);
    if (serial !== searchPeople.serial) return;
    $("org-tree").hidden = true;
    results.hidden = false;
    status.textContent = data.users.length ? "" : t("people.none");
    results.replaceChildren(
      ...data.users.map((person) =>
        el(
          "li",
          {},
          personButton(person, {
            sub: [person.org_name, person.job].filter(Boolean).join(" · "),
          }),
        ),
      ),
    );
  } catch (error) {
    if (serial === searchPeople.serial) status.textContent = error.message;
  }
}

export function onPresence({ user_id: userId, online }) {
  const person = org.people.get(userId);
  if (person) person.online = online;
  for (const dot of document.querySelectorAll(
    `.person[data-user-id="${CSS.escape(userId)}"] .online-dot`,
  )) {
    dot.hidden = !online;
    dot.dataset.online = String(Boolean(online));
  }
}

// --- a person's card -------------------------------------------------------------------------

function openPerson(person) {
  const dialog = $("person-dialog");
  dialog.dataset.userId = person.user_id;
  fillAvatar($("person-avatar"), person.name, person.user_id);
  $("person-name").textContent = person.name;
  $("person-nickname").textContent = person.nickname || "";
  $("person-nickname").hidden = !person.nickname;
  $("person-org").textContent = person.org_name || "-";
  $("person-job").textContent = person.job || "-";
  $("person-tel").textContent = person.tel_no || "-";
  $("person-id").textContent = person.user_id;
  const absence = person.absence_text || person.absence_code;
  $("person-presence").textContent = [
    person.online ? t("person.online") : t("person.offline"),
    absence,
  ]
    .filter(Boolean)
    .join(" · ");
  $("person-presence").dataset.online = String(Boolean(person.online));
  const me = app.state.me && person.user_id === app.state.me.user_id;
  $("person-chat-btn").textContent = me ? t("person.selfChat") : t("person.chat");
  if (!dialog.open) dialog.showModal();
  $("person-chat-btn").focus();
}

// --- the picker ------------------------------------------------------------------------------

const picker = {
  mode: "new",
  exclude: new Set(),
  selected: new Map(), // user_id -> person
  resolve: null,
};

// Let the person pick colleagues; resolves with {userIds, name} or null when cancelled.
export function pick({ mode, exclude = new Set() }) {
  picker.mode = mode;
  picker.exclude = exclude;
  picker.selected = new Map();
  const dialog = $("picker-dialog");
  dialog.dataset.mode = mode;
  $("picker-title").textContent = t(`picker.title.${mode}`);
  $("picker-search").value = "";
  $("picker-name").value = "";
  $("picker-status").textContent = "";
  renderSelected();
  $("picker-results").replaceChildren();
  dialog.showModal();
  $("picker-search").focus();
  loadTree()
    .then(() => renderPicker())
    .catch((error) => {
      $("picker-status").textContent = error.message;
    });
  return new Promise((resolve) => {
    picker.resolve = resolve;
  });
}

function pickable(person) {
  if (app.state.me && person.user_id === app.state.me.user_id) return false;
  return !picker.exclude.has(person.user_id);
}

async function renderPicker() {
  const q = $("picker-search").value.trim();
  const list = $("picker-results");
  const serial = (renderPicker.serial = (renderPicker.serial || 0) + 1);
  let rows = [];
  if (!q) {
    // Everyone, team by team in the company's order.
    const walk = (node) => {
      const members = node.users.filter(pickable);
      if (members.length) {
        rows.push(el("li", { className: "picker-org", text: node.name, "aria-hidden": "true" }));
        for (const person of members) rows.push(pickerRow(person, node.name));
      }
      node.children.forEach(walk);
    };
    org.roots.forEach(walk);
  } else {
    try {
      const data = await app.api("GET", `/api/users?q=${encodeURIComponent(q)}`);
      if (serial !== renderPicker.serial) return;
      rows = data.users.filter(pickable).map((person) => pickerRow(person, person.org_name));
      $("picker-status").textContent = rows.length ? "" : t("people.none");
    } catch (error) {
      $("picker-status").textContent = error.message;
      return;
    }
  }
  if (serial !== renderPicker.serial) return;
  list.replaceChildren(...rows);
}

function pickerRow(person, orgName) {
  const box = el("input", {
    type: "checkbox",
    dataset: { userId: person.user_id },
    checked: picker.selected.has(person.user_id),
    onchange: (event) => {
      if (event.currentTarget.checked) picker.selected.set(person.user_id, person);
      else picker.selected.delete(person.user_id);
      renderSelected();
    },
  });
  return el(
    "li",
    {},
    el(
      "label",
      { className: "picker-person" },
      box,
      avatarFor(person.name, person.user_id),
      el(
        "span",
        { className: "person-text" },
        el("span", { className: "person-name", text: person.name }),
        el("span", {
          className: "person-sub",
          text: [orgName, person.job].filter(Boolean).join(" · "),
        }),
      ),
    ),
  );
}

function renderSelected() {
  const chips = [...picker.selected.values()].map((person) =>
    el(
      "li",
      { className: "chip", dataset: { userId: person.user_id } },
      el("span", { text: person.name }),
      el(
        "button",
        {
          type: "button",
          className: "chip-remove",
          "aria-label": t("picker.remove", { name: person.name }),
          onclick: () => {
            picker.selected.delete(person.user_id);
            const box = $("picker-results").querySelector(
              `input[data-user-id="${CSS.escape(person.user_id)}"]`,
            );
            if (box) box.checked = false;
            renderSelected();
          },
        },
        icon("close"),
      ),
    ),
  );
  $("picker-selected").replaceChildren(...chips);
  $("picker-selected").hidden = chips.length === 0;
  const n = picker.selected.size;
  // One person is the pair's 1:1 room (which has no name for everyone); two or more, a group.
  const grouping = picker.mode !== "invite" && n > 1;
  $("picker-name-field").hidden = !grouping;
  const submit = $("picker-submit");
  submit.disabled = n === 0;
  const label =
    picker.mode === "invite"
      ? "picker.invite"
      : grouping
        ? "picker.createGroup"
        : "picker.startDirect";
  submit.textContent = n ? `${t(label)} (${n})` : t(label);
}

function onPickerSubmit(event) {
  event.preventDefault();
  if (!picker.selected.size) return;
  const done = picker.resolve;
  picker.resolve = null;
  const result = {
    userIds: [...picker.selected.keys()],
    name: $("picker-name-field").hidden ? "" : $("picker-name").value.trim(),
  };
  $("picker-dialog").close();
  done?.(result);
}
