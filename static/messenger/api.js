// Tokens and REST calls. The tokens live in this tab's sessionStorage: a reload keeps the login,
// closing the tab forgets it, and logging out in one tab leaves the others alone.

import { lang, t } from "./i18n.js";

const TOKENS_KEY = "messenger.tokens";

// Bumped by every logout. A request that set out before it is answered with a "logged_out"
// error instead of its data, and a token refresh that set out before it stores nothing: a late
// answer must not put the last person's profile, rooms or tokens back after they logged out.
let generation = 0;

export const tokens = {
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
    generation += 1;
    sessionStorage.removeItem(TOKENS_KEY);
  },
};

export class ApiError extends Error {
  constructor(status, code, message, detail) {
    super(message);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

export const NETWORK_CODES = new Set(["network", "offline", "timeout"]);

const networkError = () => new ApiError(0, "network", t("error.network"));

export const LOGGED_OUT = "logged_out";

function stillLoggedIn(started) {
  if (generation !== started) throw new ApiError(0, LOGGED_OUT, t("error.loggedOut"));
}

let onAuthLost = () => {};

// Called when the login cannot be renewed (the refresh token is refused) with "expired", with
// "disabled" when the server says the account was switched off (code user_inactive), or with
// "signed_out" when this device's session was ended from another device (code session_ended).
export function setAuthLostHandler(handler) {
  onAuthLost = handler;
}

function errorFromBody(status, body) {
  const error = body?.error || {};
  return new ApiError(
    status,
    error.code || `http_${status}`,
    error.message || t("error.server", { status }),
    error.detail,
  );
}

export async function readError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return errorFromBody(response.status, body);
}

export async function rawFetch(method, path, body, access) {
  // The server writes its error messages in the language this client shows.
  const headers = { Accept: "application/json", "Accept-Language": lang };
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
    throw networkError();
  }
}

let refreshing = null;

// One refresh at a time, shared by every caller: "ok", "invalid" (log in again) or "network".
export function refreshAccess() {
  if (!refreshing) {
    refreshing = (async () => {
      const started = generation;
      const refresh = tokens.refresh;
      if (!refresh) return "invalid";
      let response;
      try {
        response = await rawFetch("POST", "/api/auth/token/refresh", { refresh });
      } catch {
        return "network";
      }
      if (!response.ok) {
        if (response.status >= 500) return "network";
        if (generation === started && (await errorCode(response)) === "session_ended") {
          onAuthLost("signed_out");
        }
        return "invalid";
      }
      const data = await response.json();
      if (generation !== started) return "invalid";
      tokens.save({ access: data.access, ...(data.refresh ? { refresh: data.refresh } : {}) });
      return "ok";
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function errorCode(response) {
  try {
    const body = await response.clone().json();
    return body?.error?.code || null;
  } catch {
    return null;
  }
}

// A 401 that says the account is deactivated (it may come before the socket's 4003 close) or
// that this device was signed out from another: renewing the token cannot help, and the person
// is told why they were logged out.
const LOST_CODES = {
  user_inactive: ["disabled", "error.disabled"],
  session_ended: ["signed_out", "error.signedOut"],
};

// A request with the access token, renewed once on 401; its answer is dropped (LOGGED_OUT) if
// the person logged out while it was on its way.
async function authorized(send) {
  const started = generation;
  let response = await send(tokens.access);
  stillLoggedIn(started);
  const code = response.status === 401 ? await errorCode(response) : null;
  const lost = code ? LOST_CODES[code] : null;
  if (lost) {
    onAuthLost(lost[0]);
    throw new ApiError(401, code, t(lost[1]));
  }
  if (response.status === 401) {
    const outcome = await refreshAccess();
    stillLoggedIn(started);
    if (outcome === "network") throw networkError();
    if (outcome === "ok") response = await send(tokens.access);
    stillLoggedIn(started);
    if (outcome === "invalid" || response.status === 401) {
      onAuthLost("expired");
      throw new ApiError(401, "not_authenticated", t("error.loginExpired"));
    }
  }
  return response;
}

export async function api(method, path, body) {
  const started = generation;
  const response = await authorized((access) => rawFetch(method, path, body, access));
  if (!response.ok) throw await readError(response);
  if (response.status === 204) return null;
  const data = await response.json();
  stillLoggedIn(started);
  return data;
}

// A file as a Blob (thumbnails, downloads): <img src> cannot send the Authorization header.
export async function apiBlob(path) {
  const started = generation;
  const response = await authorized(async (access) => {
    try {
      return await fetch(path, {
        headers: access ? { Authorization: `Bearer ${access}` } : {},
        credentials: "same-origin",
      });
    } catch {
      throw networkError();
    }
  });
  if (!response.ok) throw await readError(response);
  const blob = await response.blob();
  stillLoggedIn(started);
  return blob;
}

// A multipart upload with progress, through XMLHttpRequest (fetch reports no upload progress).
// Returns {promise, abort}; the promise resolves with the JSON answer.
export function upload(path, form, onProgress) {
  let xhr = null;
  let aborted = false;
  const sendOnce = (access) =>
    new Promise((resolve, reject) => {
      xhr = new XMLHttpRequest();
      xhr.open("POST", path);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("Accept-Language", lang);
      if (access) xhr.setRequestHeader("Authorization", `Bearer ${access}`);
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) onProgress(event.loaded, event.total);
      });
      xhr.addEventListener("load", () => {
        let body = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          body = null;
        }
        resolve({ status: xhr.status, body });
      });
      xhr.addEventListener("error", () => reject(networkError()));
      xhr.addEventListener("abort", () => reject(new ApiError(0, "aborted", t("files.aborted"))));
      xhr.send(form);
    });
  const promise = (async () => {
    const started = generation;
    let answer = await sendOnce(tokens.access);
    stillLoggedIn(started);
    const lost = answer.status === 401 ? LOST_CODES[answer.body?.error?.code] : null;
    if (lost) {
      onAuthLost(lost[0]);
    } else if (answer.status === 401 && !aborted) {
      const outcome = await refreshAccess();
      stillLoggedIn(started);
      if (outcome === "ok") answer = await sendOnce(tokens.access);
      else if (outcome === "invalid") onAuthLost("expired");
      stillLoggedIn(started);
    }
    if (answer.status < 200 || answer.status >= 300) {
      throw errorFromBody(answer.status, answer.body);
    }
    return answer.body;
  })();
  return {
    promise,
    abort() {
      aborted = true;
      xhr?.abort();
    },
  };
}

// Log out on the server: the refresh token is revoked and this device's session ends (its
// access tokens stop working). Best effort: the tab forgets its tokens whatever the answer.
export function logoutOnServer() {
  const refresh = tokens.refresh;
  if (!refresh) return Promise.resolve();
  return rawFetch("POST", "/api/auth/logout", { refresh }).then(
    () => {},
    () => {},
  );
}

export function tokenExpiresWithin(ms) {
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
