import { readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import { TestSshd } from "../../ssh-relay/test/helpers/sshd.ts";
import { api, E2E_SECRETS, freePort, startController, type Controller } from "./controller.ts";
import { audit } from "./dashboard/a11y.ts";
import { launchBrowser, screenshot, SCREENSHOTS, type Browser } from "./dashboard/browser.ts";
import { appsAndRollouts, SHOP_HOSTS, SHOP_YAML } from "./dashboard/rollouts.ts";
import { startStandin, type Standin } from "./github-standin-server.ts";
import { ScriptedAgent } from "./scripted-agent.ts";
import { RELAY_TOKEN, RelayProcess } from "./ssh-stack.ts";

// The web dashboard in a real browser (Debian's chromium through playwright-core) against
// `wrangler dev` serving both the static files (wrangler [assets]) and the API, with a scripted
// agent playing the host, and the real ssh-relay with a real sshd for the ssh host. The tests run in order
// and share one signed-in tab.

const TOKEN = E2E_SECRETS.DEPLOYBOT_API_TOKENS;
// edge-01, the ssh host, points at a port where nothing listens (the relay cannot reach it) until the hosts
// test points it at the sshd.
const sshConfig = (port: number) => `version: 1
defaults: { lease: 60s, retries: 1 }
hosts:
  web-01: { mode: agent }
  web-02: { mode: agent }
  edge-01:
    mode: ssh
    ssh: { address: 127.0.0.1, port: ${port}, user: ${sshd.user}, host_key: "${sshd.hostKey.publicKey}" }
${SHOP_HOSTS.map((host) => `  ${host}: { mode: agent }\n`).join("")}apps:
  web:
    repo: acme/web
    branches: [main, "release/*"]
    hosts: [web-01, web-02]
    deploy: { image: "127.0.0.1:5000/acme/web:{short_sha}", container: web }
  api:
    repo: acme/api
    branches: [main]
    hosts: [web-02, edge-01]
    deploy: { image: "127.0.0.1:5000/acme/api:{short_sha}", container: api }
${SHOP_YAML}`;
const sha = (n: number) => n.toString(16).padStart(40, "0");

let controller: Controller;
let sshd: TestSshd;
let relay: RelayProcess;
/** The stand-in GitHub the controller reports to, for the GitHub lines of the job and rollout pages. */
let github: Standin;
let config: string;
let browser: Browser;
let page: Page;
let agent: ScriptedAgent;
/** Ids of jobs made along the way, by what they were for. */
const jobs: Record<string, string> = {};

beforeAll(async () => {
  sshd = new TestSshd();
  await sshd.start();
  relay = new RelayProcess(await freePort(), sshd.clientKey.privateKey);
  await relay.start();
  config = sshConfig(await freePort());
  github = await startStandin();
  const vars = { SSH_RELAY_URL: relay.url, SSH_RELAY_TOKEN: RELAY_TOKEN, GITHUB_TOKEN: "ghp_e2e", GITHUB_API_URL: github.url };
  [controller, browser] = await Promise.all([startController({ vars }), launchBrowser()]);
  page = browser.page;
  const put = await api(controller, "/v1/config", { method: "PUT", body: config, headers: { "content-type": "application/yaml" } });
  expect(put.status).toBe(200);
  // Browser-side problems fail the test that caused them.
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  console.info(`dashboard screenshots: ${SCREENSHOTS}`);
});
afterAll(async () => {
  await browser?.close();
  await controller?.dispose();
  await relay?.kill();
  await sshd?.dispose();
  await github?.close();
});
const pageErrors: string[] = [];
// A failing test leaves a picture of the page and what it said.
beforeEach(({ task }) => {
  onTestFailed(async () => {
    await screenshot(page, `failed-${task.name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60)}`).catch(() => undefined);
    console.error(`page at failure (${page.url()}):\n${await page.locator("body").innerText().catch(() => "?")}`);
  });
});

/** expect.poll with room for a busy machine (its default gives up after one second). */
const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 20_000, interval: 100 });

/** Waits until a job is readable through the API (D1 has it moments after it is queued). */
async function settled(id: string) {
  for (let i = 0; i < 50 && (await api(controller, `/v1/jobs/${id}`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
}

async function confirmDialog(button: string) {
  const dialog = page.getByRole("dialog");
  await poll(() => dialog.isVisible()).toBe(true);
  await dialog.getByRole("button", { name: button, exact: true }).click();
}

/** The log lines the page shows, as [number, text]. */
const shownLines = () =>
  page.$$eval("[data-testid=log] .l", (rows) => rows.map((row) => [Number((row as HTMLElement).dataset.n), row.textContent ?? ""] as [number, string]));

describe("serving", () => {
  it("serves the dashboard and the API from one origin, with a strict CSP and no referrer", async () => {
    const res = await fetch(`${controller.url}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<script type="module" src="/app.js"></script>');
    expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect((await fetch(`${controller.url}/app.js`)).headers.get("content-type")).toMatch(/javascript/);
    // Paths that name no file still reach the Worker; the type-check settings are not served.
    expect((await fetch(`${controller.url}/v1/hosts`)).status).toBe(401);
    expect((await fetch(`${controller.url}/openapi.json`)).status).toBe(200);
    expect((await fetch(`${controller.url}/tsconfig.json`)).status).toBe(404);
  });
});

describe("sign-in", () => {
  it("refuses a wrong token and keeps nothing", async () => {
    await page.goto(controller.url);
    await page.getByLabel("API token").fill("not-the-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await poll(() => page.getByRole("alert").textContent()).toBe("The controller refused this token.");
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(await page.getByLabel("API token").getAttribute("aria-invalid")).toBe("true");
    expect(await audit(page)).toEqual([]);
    await screenshot(page, "1-sign-in-refused");
  });

  it("signs in with an API token, kept in sessionStorage only", async () => {
    await page.getByLabel("API token").fill(TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await poll(() => page.locator("h1").textContent()).toBe("Hosts");
    expect(await page.evaluate(() => [sessionStorage.getItem("deploybot.token"), localStorage.length, document.cookie])).toEqual([TOKEN, 0, ""]);
    expect(await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Hosts" }).getAttribute("aria-current")).toBe("page");
  });
});

describe("hosts", () => {
  it("lists every host with its mode and state, and follows an agent coming online", async () => {
    const row = (name: string) => page.locator(`tr[data-host="${name}"]`);
    await poll(() => row("web-01").textContent()).toContain("offline");
    // The relay has tried edge-01's address and failed: the badge says so, since when, and why.
    await poll(() => row("edge-01").locator(".badge").textContent()).toBe("unreachable");
    expect(await row("edge-01").textContent()).toMatch(/ssh.*unreachable.*since.*(just now|ago).*connect_failed: could not connect to edge-01/);
    expect(await row("web-01").textContent()).toContain("never");

    agent = await ScriptedAgent.register(controller, "web-01");
    await agent.heartbeat();
    // The page polls every 3 s: the agent shows up without a reload.
    await poll(() => row("web-01").textContent()).toMatch(/online.*just now/);
    expect(await row("web-02").textContent()).toContain("offline");
    expect(await audit(page)).toEqual([]);
    await screenshot(page, "2-hosts");
  });

  it("shows an ssh host as reachable once the relay connects to it, with when", async () => {
    const row = page.locator('tr[data-host="edge-01"]');
    const put = (body: string) => api(controller, "/v1/config", { method: "PUT", body, headers: { "content-type": "application/yaml" } });
    expect((await put(sshConfig(sshd.port))).status).toBe(200);
    try {
      await poll(() => row.locator(".badge").textContent()).toBe("reachable");
      expect(await row.textContent()).toMatch(/reachable via SSH.*(just now|ago)/);
      expect(await row.locator(".reach-error").count()).toBe(0);
      expect(await audit(page)).toEqual([]);
      await screenshot(page, "2b-hosts-ssh-reachable");
    } finally {
      expect((await put(config)).status).toBe(200);
    }
  });
});

describe("deploy, live log, cancel, rollback", () => {
  it("deploys from the form after a confirmation and shows the new job", async () => {
    await page.getByRole("link", { name: "Deploy", exact: true }).first().click();
    await page.getByLabel("App").selectOption("web");
    await page.getByLabel("Host").selectOption("web-01");
    expect(await page.getByLabel("Ref").inputValue()).toBe("main");
    await page.getByLabel("Commit (optional)").fill(sha(1));
    expect(await audit(page)).toEqual([]);
    await screenshot(page, "3-deploy-form");
    await page.getByRole("button", { name: "Deploy…" }).click();
    await poll(() => page.getByRole("dialog").textContent()).toContain(`web at main (${sha(1).slice(0, 12)}) to web-01.`);
    await screenshot(page, "4-deploy-confirm");
    await confirmDialog("Deploy");

    await poll(() => page.url()).toMatch(/#\/jobs\/web-01\.[0-9a-f-]{36}$/); // ids name their host
    jobs.deployed = /#\/jobs\/(.+)$/.exec(page.url())![1]!;
    await poll(() => page.locator("#notice").textContent()).toBe(`Deploy queued as job ${jobs.deployed.slice("web-01.".length, "web-01.".length + 8)}.`);
    expect(await page.locator("h1").textContent()).toBe("web @ main on web-01 queued");
    const stored = await (await api(controller, `/v1/jobs/${jobs.deployed}`)).json();
    expect(stored).toMatchObject({ app: "web", host: "web-01", sha: sha(1), ref: "refs/heads/main", trigger: "api", status: "queued" });
  });

  it("follows the log live as the agent posts thousands of lines, without freezing the page", async () => {
    await page.evaluate(() => {
      (window as any).longest = 0;
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) (window as any).longest = Math.max((window as any).longest, entry.duration);
      }).observe({ type: "longtask" });
    });
    const job = await agent.takeJob();
    expect(job.id).toBe(jobs.deployed);
    await agent.status(job.id, { status: "running", attempt: job.attempt });
    await poll(() => page.locator("h1").textContent()).toBe("web @ main on web-01 running");
    await poll(() => page.locator(".stream-state").textContent()).toBe("Live");

    // The controller's own line comes first ("[deploybot] attempt 1 handed to agent …"); the agent's
    // line k is the log's line k + 1. The first lines appear while the job still posts: the page follows.
    await agent.log(job.id, ["line 1", "line 2", "line 3"]);
    await poll(shownLines).toEqual([[1, expect.stringMatching(/^\[deploybot\] attempt 1 handed to agent /)], [2, "line 1"], [3, "line 2"], [4, "line 3"]]);
    const start = Date.now();
    for (let batch = 0; batch < 12; batch++) {
      await agent.log(job.id, Array.from({ length: 1000 }, (_, i) => `line ${4 + batch * 1000 + i}`));
    }
    await poll(() => page.locator(".log-count").textContent()).toBe("12,004 lines");
    const elapsed = Date.now() - start;
    // Only about the newest 5,000 lines are in the DOM (whole chunks of 200 leave the top); the page says so.
    const lines = await shownLines();
    expect(lines.length).toBeGreaterThanOrEqual(5000);
    expect(lines.length).toBeLessThan(5200);
    expect(lines).toEqual(lines.map((_, i) => [12004 - lines.length + 1 + i, `line ${12004 - lines.length + i}`]));
    expect(await page.locator(".log-trimmed").textContent()).toBe(`Showing the newest ${lines.length.toLocaleString("en")} of 12,004 lines; Download has them all.`);
    // Following: the view is scrolled to the end.
    expect(await page.$eval("[data-testid=log]", (el) => el.scrollHeight - el.scrollTop - el.clientHeight)).toBeLessThan(30);
    const longest = await page.evaluate(() => (window as any).longest as number);
    // A figure, not a pass mark (timings belong in benchmarks): the page stays responsive in practice.
    console.info(`12,000 lines reached the page in ${elapsed} ms; longest main-thread task ${Math.round(longest)} ms`);
    await screenshot(page, "5-job-live-log");
  });

  it("resumes after a dropped connection with no gap and no duplicate", async () => {
    const jobId = jobs.deployed!;
    await controller.restart(); // drops the stream
    await agent.log(jobId, Array.from({ length: 50 }, (_, i) => `line ${12004 + i}`));
    await poll(() => page.locator(".stream-state").textContent()).toBe("Live");
    await poll(() => page.locator(".log-count").textContent()).toBe("12,054 lines");
    // A reader who scrolls up is left where they are, and offered a way back to the end.
    const distanceToEnd = () => page.$eval("[data-testid=log]", (el) => el.scrollHeight - el.scrollTop - el.clientHeight);
    await page.$eval("[data-testid=log]", (el) => el.scrollTo({ top: 0 }));
    await agent.log(jobId, ["line 12054", "done"]);
    await poll(() => page.getByRole("button", { name: "↓ 2 new lines" }).isVisible()).toBe(true);
    expect(await page.$eval("[data-testid=log]", (el) => el.scrollTop)).toBe(0);
    await page.getByRole("button", { name: "↓ 2 new lines" }).click();
    await poll(distanceToEnd).toBeLessThan(30);
    expect(await page.getByRole("button", { name: /new line/ }).isVisible()).toBe(false);
    await agent.status(jobId, { status: "succeeded", exit_code: 0 });
    await poll(() => page.locator(".stream-state").textContent()).toBe("Finished");
    expect(await page.locator("h1").textContent()).toBe("web @ main on web-01 succeeded");
    expect(await page.locator(".log-count").textContent()).toBe("12,056 lines");

    // Every line once, in order, numbered without a gap: nothing lost, nothing repeated across the drop.
    const lines = await shownLines();
    expect(lines.length).toBeGreaterThanOrEqual(5000);
    expect(lines).toEqual(lines.map((_, i) => 12056 - lines.length + 1 + i).map((n) => [n, n === 12056 ? "done" : `line ${n - 1}`]));
    // The download has the whole log, the drop included: 12,056 lines, each once.
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download" }).click()]);
    expect(download.suggestedFilename()).toBe(`job-${jobId}.log`);
    const text = readFileSync((await download.path())!, "utf8").trimEnd().split("\n");
    expect(text).toHaveLength(12056);
    expect(text.slice(1)).toEqual([...Array.from({ length: 12054 }, (_, i) => `line ${i + 1}`), "done"]);
    expect(await audit(page)).toEqual([]);
    await screenshot(page, "6-job-finished");
  });

  it("cancels a queued job after a confirmation", async () => {
    const res = await api(controller, "/v1/jobs", { method: "POST", body: JSON.stringify({ app: "web", ref: "main", sha: sha(2), host: "web-02" }), headers: { "content-type": "application/json" } });
    jobs.queued = ((await res.json()) as { id: string }).id;
    await settled(jobs.queued);
    await page.goto(`${controller.url}/#/jobs/${jobs.queued}`);
    await poll(() => page.locator("h1").textContent()).toBe("web @ main on web-02 queued");
    await page.getByRole("button", { name: "Cancel job" }).click();
    await screenshot(page, "7-cancel-confirm");
    await confirmDialog("Cancel job");
    await poll(() => page.getByRole("status").filter({ hasText: "Job cancelled." }).count()).toBe(1);
    expect(await page.locator("h1").textContent()).toBe("web @ main on web-02 cancelled");
    expect(((await (await api(controller, `/v1/jobs/${jobs.queued}`)).json()) as { status: string }).status).toBe("cancelled");
  });

  it("cancels a running job: the agent is told, and the page follows it to cancelled", async () => {
    const res = await api(controller, "/v1/jobs", { method: "POST", body: JSON.stringify({ app: "web", ref: "main", sha: sha(3), host: "web-01" }), headers: { "content-type": "application/json" } });
    const id = ((await res.json()) as { id: string }).id;
    const job = await agent.takeJob();
    expect(job.id).toBe(id);
    await agent.status(id, { status: "running", attempt: job.attempt });
    await settled(id);
    await page.goto(`${controller.url}/#/jobs/${id}`);
    await poll(() => page.locator("h1").textContent()).toBe("web @ main on web-01 running");
    await page.getByRole("button", { name: "Cancel job" }).click();
    await confirmDialog("Cancel job");
    await poll(() => page.locator("p.ok").textContent()).toBe("Cancel requested: the agent stops the job on its next heartbeat.");
    expect((await agent.heartbeat(id)).body.cancel).toEqual([id]);
    await agent.status(id, { status: "failed", error: "cancelled by user", attempt: job.attempt });
    await poll(() => page.locator("h1").textContent()).toBe("web @ main on web-01 cancelled");
  });

  it("redeploys a previous commit as a rollback and shows the new job", async () => {
    await page.goto(`${controller.url}/#/jobs/${jobs.deployed}`);
    await poll(() => page.locator("h1").textContent()).toBe("web @ main on web-01 succeeded");
    // A finished job's log arrives as one burst of history: the newest lines, contiguous, at the end.
    await poll(() => page.locator(".stream-state").textContent()).toBe("Finished");
    expect(await page.locator(".log-count").textContent()).toBe("12,056 lines");
    const lines = await shownLines();
    expect(lines.length).toBeGreaterThanOrEqual(5000);
    expect(lines.length).toBeLessThan(5200);
    expect(lines).toEqual(lines.map((_, i) => 12056 - lines.length + 1 + i).map((n) => [n, n === 12056 ? "done" : `line ${n - 1}`]));
    await page.getByRole("button", { name: "Redeploy this commit" }).click();
    await confirmDialog("Redeploy");
    await poll(() => page.locator("#notice").textContent()).toMatch(/^Rollback queued as job [0-9a-f]{8}\.$/);
    const id = /#\/jobs\/(.+)$/.exec(page.url())![1]!;
    expect(id).not.toBe(jobs.deployed);
    expect(await (await api(controller, `/v1/jobs/${id}`)).json()).toMatchObject({ sha: sha(1), host: "web-01", app: "web", trigger: "rollback" });
    const job = await agent.takeJob();
    expect(job.id).toBe(id);
    await agent.status(id, { status: "succeeded", exit_code: 0, attempt: job.attempt });
    await poll(() => page.locator("h1").textContent()).toBe("web @ main on web-01 succeeded");
  });
});

describe("jobs", () => {
  it("lists jobs newest first, filters by host, app and status, and pages with next_cursor", async () => {
    await page.goto(`${controller.url}/#/jobs`);
    const ids = () => page.$$eval("tbody tr[data-job]", (rows) => rows.map((r) => (r as HTMLElement).dataset.job!));
    await poll(ids).toHaveLength(4);
    const api4 = ((await (await api(controller, "/v1/jobs")).json()) as { jobs: Array<{ id: string }> }).jobs.map((j) => j.id);
    expect(await ids()).toEqual(api4);
    expect(await audit(page)).toEqual([]);
    await screenshot(page, "8-jobs");

    await page.getByLabel("Host").selectOption("web-02");
    await poll(ids).toEqual([jobs.queued]);
    expect(page.url()).toMatch(/#\/jobs\?host=web-02$/);
    await page.getByLabel("Status").selectOption("succeeded");
    await poll(() => page.getByText("No jobs match.").isVisible()).toBe(true);
    await page.getByRole("link", { name: "Clear" }).click();
    await page.getByLabel("Status").selectOption("succeeded");
    await poll(ids).toHaveLength(2);
    await page.getByLabel("App").selectOption("api");
    await poll(() => page.getByText("No jobs match.").isVisible()).toBe(true);

    // Two to a page: three pages, no job twice, newest first throughout.
    await page.goto(`${controller.url}/#/jobs?limit=2`);
    await poll(ids).toEqual(api4.slice(0, 2));
    await page.getByRole("link", { name: "Older →" }).click();
    await poll(ids).toEqual(api4.slice(2, 4));
    expect(await page.getByRole("link", { name: "Older →" }).count()).toBe(0);
    await page.getByRole("link", { name: "← Newest" }).click();
    await poll(ids).toEqual(api4.slice(0, 2));
  });
});

describe("config", () => {
  it("shows the running apps.yaml with its version, and every version", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Config" }).click();
    const version = (await (await api(controller, "/v1/config")).headers.get("x-config-version"))!;
    await poll(() => page.locator("main > .view > p").first().textContent()).toBe(`Running: version ${version}.`);
    expect(await page.locator("pre.yaml").textContent()).toBe(config);
    const rows = await page.$$eval("table[aria-label='Config versions'] tbody th", (cells) => cells.map((c) => c.textContent));
    // Every stored version, newest first (the hosts tests stored some), then the bundled one.
    const stored = Array.from({ length: Number(version) }, (_, i) => String(Number(version) - i));
    expect(rows).toEqual([...stored, "0 (bundled)"]);
    expect(await audit(page)).toEqual([]);
    await screenshot(page, "9-config");
    await page.getByRole("link", { name: "0 (bundled)" }).click();
    await poll(() => page.locator("h1").textContent()).toBe("Config version 0");
    expect(await page.locator("pre.yaml").textContent()).toContain("acme/web");
    expect(await page.locator("main > .view > p").first().textContent()).toBe("Version 0; not running (the bundled apps.yaml). Show the running one.");
  });
});

describe("agents", () => {
  it("revokes a host's agent after a confirmation: its token is refused at once", async () => {
    const other = await ScriptedAgent.register(controller, "web-02");
    expect((await other.heartbeat()).status).toBe(200);
    await page.goto(`${controller.url}/#/hosts`);
    const row = page.locator('tr[data-host="web-02"]');
    await poll(() => row.textContent()).toContain(other.id.slice(0, 8));

    await row.getByRole("button", { name: "Revoke the agent of web-02" }).click();
    await poll(() => page.getByRole("dialog").textContent()).toContain(`Agent ${other.id} on web-02.`);
    await screenshot(page, "10-revoke-confirm");
    await confirmDialog("Revoke agent");

    await poll(() => page.locator("p.ok").textContent()).toBe(`Agent ${other.id.slice(0, 8)} on web-02 revoked.`);
    expect(await other.heartbeat()).toMatchObject({ status: 401, body: { error: { code: "agent_revoked" } } });
    await poll(() => row.textContent()).toContain("offline");
    expect(await row.getByRole("button", { name: "Revoke the agent of web-02" }).count()).toBe(0);
    expect(await audit(page)).toEqual([]);
  });
});

/** The first rollout of the Apps page's tests, for the phone's turn. */
let firstRollout = () => "";
describe("apps and rollouts", () => {
  firstRollout = appsAndRollouts({ page: () => page, controller: () => controller, github: () => github.url, confirmDialog }).firstRollout;
});

describe("on a phone", () => {
  it("fits a 390 px wide screen with no sideways scrolling", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [hash, name] of [["#/hosts", "11-phone-hosts"], [`#/jobs/${jobs.deployed}`, "12-phone-job"], ["#/jobs", "13-phone-jobs"], ["#/deploy", "14-phone-deploy"], ["#/apps", "22-phone-apps"], [`#/rollouts/${firstRollout()}`, "23-phone-rollout"]] as const) {
      await page.goto(`${controller.url}/${hash}`);
      await page.locator("main h1").waitFor();
      await page.waitForLoadState("networkidle").catch(() => undefined);
      await page.waitForTimeout(300);
      // A finished job's or rollout's page is audited once its stream has delivered everything.
      if (/^#\/(jobs|rollouts)\/./.test(hash)) await poll(() => page.locator(".stream-state").textContent()).toBe("Finished");
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expect(await audit(page)).toEqual([]);
      await screenshot(page, name);
    }
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it("raised no error in the page", () => {
    expect(pageErrors).toEqual([]);
  });
});

describe("sign-out and a revoked token", () => {
  it("signs out, and sends a tab whose token is refused back to sign-in", async () => {
    await page.goto(`${controller.url}/#/hosts`);
    await page.getByRole("button", { name: "Sign out" }).click();
    await poll(() => page.locator("h1").textContent()).toBe("Sign in");
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);

    await page.evaluate(() => sessionStorage.setItem("deploybot.token", "revoked"));
    await page.goto(`${controller.url}/#/jobs`);
    await poll(() => page.locator("h1").textContent()).toBe("Sign in");
    expect(await page.locator("#notice").textContent()).toBe("The controller refused the token. Sign in again.");
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });
});
