// @ts-check
import { query, request } from "../lib/api.js";
import { h, replace, time } from "../lib/dom.js";
import { errorBox } from "../lib/ui.js";

/**
 * The running apps.yaml (or an older version: #/config/<version>) and the list of versions.
 * Changing the config stays with `ctl config push` / PUT /v1/config, where it is validated.
 * @type {import("../app.js").Page}
 */
export async function configPage({ main, segments, params }) {
  const wanted = segments[1];
  const heading = h("h1", { tabindex: "-1" }, "Config");
  main.append(heading);
  try {
    const [res, list] = await Promise.all([
      request(wanted === undefined ? "/v1/config" : `/v1/config/versions/${encodeURIComponent(wanted)}`, { raw: true }),
      request(`/v1/config/versions${query({ before: params.get("before") })}`),
    ]);
    const version = Number(res.headers.get("x-config-version"));
    const yaml = await res.text();
    const running = list.versions.find((/** @type {any} */ v) => v.running)?.version ?? (wanted === undefined ? version : null);
    replace(heading, wanted === undefined ? "Config" : `Config version ${version}`);
    main.append(
      h(
        "p",
        null,
        version === running ? `Running: version ${version}` : `Version ${version}; not running`,
        version === 0 ? " (the bundled apps.yaml)." : ".",
        version !== running ? [" ", h("a", { href: "#/config" }, "Show the running one.")] : null,
      ),
      h("div", { class: "yaml-wrap" }, h("pre", { class: "yaml", tabindex: "0", "aria-label": `apps.yaml, version ${version}` }, h("code", null, yaml))),
      h("h2", null, "Versions"),
      versionsTable(list.versions, version),
      h("nav", { class: "pager", "aria-label": "Pages", hidden: !list.next_before }, list.next_before ? h("a", { class: "button quiet", href: `#/config?before=${list.next_before}` }, "Older →") : null),
      h("p", { class: "muted small" }, "Change it with ", h("code", null, "ctl config push apps.yaml"), " (or PUT /v1/config): a file with problems is refused with their lines and columns."),
    );
  } catch (error) {
    main.append(errorBox(error));
  }
}

/**
 * @param {any[]} versions
 * @param {number} shown
 */
function versionsTable(versions, shown) {
  return h(
    "table",
    { class: "stack", "aria-label": "Config versions" },
    h("thead", null, h("tr", null, ["Version", "Stored", "Size", "SHA-256", ""].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      null,
      versions.map((v) =>
        h(
          "tr",
          { "aria-current": v.version === shown ? "true" : false },
          h("th", { scope: "row", "data-label": "Version" }, h("a", { href: `#/config/${v.version}` }, v.source === "bundled" ? "0 (bundled)" : String(v.version))),
          h("td", { "data-label": "Stored" }, time(v.created_at, "in the Worker")),
          h("td", { "data-label": "Size", class: "num" }, `${v.bytes.toLocaleString("en")} B`),
          h("td", { "data-label": "SHA-256", class: "mono" }, v.sha256 ? v.sha256.slice(0, 12) : "—"),
          h("td", { "data-label": "" }, v.running ? h("span", { class: "badge badge-running" }, "running") : ""),
        ),
      ),
    ),
  );
}
