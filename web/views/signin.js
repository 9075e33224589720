// @ts-check
import { ApiError, request, session } from "../lib/api.js";
import { h } from "../lib/dom.js";

/**
 * Sign-in with an API token (one of DEPLOYBOT_API_TOKENS). The token is tried against the API before
 * it is kept, and kept in sessionStorage only: closing the tab signs out.
 * @type {import("../app.js").Page}
 */
export function signInPage({ main, params, navigate }) {
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", spellcheck: "false", required: true, "aria-describedby": "token-help" });
  const problem = h("p", { class: "error", role: "alert", hidden: true, id: "signin-error" });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title", tabindex: "-1" }, "Sign in"),
    h("label", { for: "token" }, "API token"),
    input,
    h("p", { id: "token-help", class: "muted" }, "One of the controller's DEPLOYBOT_API_TOKENS. It is kept for this tab only."),
    problem,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = /** @type {HTMLInputElement} */ (input).value.trim();
    submit.setAttribute("disabled", "");
    problem.hidden = true;
    try {
      await request("/v1/hosts", { token });
      session.signIn(token);
      const next = params.get("next");
      navigate(next && next.startsWith("#/") && !next.startsWith("#/signin") ? next : "#/hosts");
    } catch (error) {
      problem.textContent =
        error instanceof ApiError && error.status === 401 ? "The controller refused this token." : error instanceof Error ? error.message : String(error);
      problem.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.focus();
    } finally {
      submit.removeAttribute("disabled");
    }
  });
  main.append(form);
  input.focus();
}
