// Sign-in with the company account (OpenID Connect, docs/sso.md). The server's callback sends
// the browser back to this page with a one-time code, or a refusal's code, in the URL fragment
// (#oidc_code=... / #oidc_error=...). The fragment is taken out of the address bar and the
// history at once, and the code is traded for this tab's tokens: no token ever travels in a URL.

import { rawFetch, readError, tokens } from "./api.js";
import { t } from "./i18n.js";

function messageFor(code, fallback) {
  const key = `oidc.${code}`;
  const text = t(key);
  return text === key ? fallback || t("oidc.oidc_invalid") : text;
}

// What the fragment brought: null (nothing: carry on as usual), {ok: true} (tokens saved) or
// {error: "<message for the login form>"}.
export async function takeOidcResult() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const code = params.get("oidc_code");
  const refusal = params.get("oidc_error");
  if (code === null && refusal === null) return null;
  history.replaceState(history.state, "", window.location.pathname + window.location.search);
  if (refusal !== null) return { error: messageFor(refusal) };
  try {
    const response = await rawFetch("POST", "/api/auth/oidc/exchange", { code });
    if (!response.ok) throw await readError(response);
    const data = await response.json();
    tokens.save({ access: data.access, refresh: data.refresh });
    return { ok: true };
  } catch (failure) {
    return { error: messageFor(failure.code, failure.message) };
  }
}
