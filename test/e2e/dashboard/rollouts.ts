import type { Page } from "playwright-core";
import { expect, it } from "vitest";
import { api, type Controller } from "../controller.ts";
import { ScriptedAgent } from "../scripted-agent.ts";
import { audit } from "./a11y.ts";
import { screenshot } from "./browser.ts";

// The Apps page and a rollout's page, for dashboard.e2e.test.ts: app "shop" on three scripted
// agents, released in three waves (canary shop-01, then one host at a time).

export const SHOP_HOSTS = ["shop-01", "shop-02", "shop-03"] as const;
export const SHOP_YAML = `  shop:
    repo: acme/shop
    branches: [main]
    hosts: [${SHOP_HOSTS.join(", ")}]
    deploy: { image: "127.0.0.1:5000/acme/shop:{short_sha}", container: shop }
    rollout: { canary: [shop-01], batch: 1 }
`;
const RELEASE = `abc1234${"0".repeat(33)}`;
const NEXT = `def5678${"0".repeat(33)}`;
const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 20_000, interval: 100 });

interface Context {
  page: () => Page;
  controller: () => Controller;
  /** The stand-in GitHub's URL. */
  github: () => string;
  confirmDialog: (button: string) => Promise<void>;
}

/** The tests, in order: each goes on from where the one before left the app. */
export function appsAndRollouts({ page: pageOf, controller: controllerOf, github, confirmDialog }: Context) {
  const agents = new Map<string, ScriptedAgent>();
  /** The jobs each host ran for the first rollout. */
  const ran = new Map<string, string>();
  let first = "";

  const rollout = async (sha: string) => {
    const res = await api(controllerOf(), "/v1/rollouts", { method: "POST", body: JSON.stringify({ app: "shop", ref: "main", sha }), headers: { "content-type": "application/json" } });
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  };
  const stored = async (id: string) => (await (await api(controllerOf(), `/v1/rollouts/${id}`)).json()) as { status: string; waves: Array<{ status: string; states: string[] }> };
  /** The host's agent takes its job and reports it done. */
  const deploy = async (host: string, status: "succeeded" | "failed" = "succeeded") => {
    const agent = agents.get(host)!;
    const job = await agent.takeJob();
    await agent.status(job.id, { status: "running", attempt: job.attempt });
    await agent.status(job.id, { status, exit_code: status === "succeeded" ? 0 : 1, attempt: job.attempt });
    return job.id as string;
  };
  const heading = () => pageOf().locator("h1").textContent();
  const waveText = (n: number) => pageOf().locator(`section[data-wave="${n}"]`).textContent();
  const shopRow = () => pageOf().locator('tr[data-app="shop"]');
  const githubLine = () => pageOf().locator("p.github-line");

  it("shows a rollout in progress on the Apps page, and its waves with each host's job on its page, live", async () => {
    const page = pageOf();
    for (const host of SHOP_HOSTS) {
      const agent = await ScriptedAgent.register(controllerOf(), host);
      await agent.heartbeat();
      agents.set(host, agent);
    }
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Apps" }).click();
    await poll(() => shopRow().locator("td.rollout").textContent()).toBe("none");
    expect(await shopRow().locator('td[data-host="shop-01"]').textContent()).toBe("nothing yet");

    first = await rollout(RELEASE);
    // The page polls: the rollout shows up without a reload.
    await poll(() => shopRow().locator("td.rollout").textContent()).toBe("main @ abc1234running wave 1 of 3");
    expect(await shopRow().locator('td[data-host="shop-01"]').textContent()).toBe("nothing yet→ abc1234 queued");
    expect(await audit(page)).toEqual([]);
    await screenshot(page, "15-apps-rollout-running");

    await shopRow().getByRole("link", { name: "main @ abc1234" }).click();
    await poll(heading).toBe("shop @ main running");
    await poll(() => page.locator(".stream-state").textContent()).toBe("Live");
    expect(await waveText(1)).toMatch(/^Wave 1 \(canary\) running/);
    expect(await waveText(2)).toMatch(/^Wave 2 pending.*shop-02pendingnot yet$/);
    expect(await page.locator("section.wave").count()).toBe(3);
    // A marker on the window: still there after the waves advance, so the page was never reloaded.
    await page.evaluate(() => ((window as any).sameTab = true));

    for (const [n, host] of SHOP_HOSTS.entries()) {
      ran.set(host, await deploy(host));
      await poll(() => waveText(n + 1)).toMatch(/succeeded/);
      const link = page.locator(`section[data-wave="${n + 1}"] tr[data-host="${host}"] a`);
      expect(await link.getAttribute("href")).toBe(`#/jobs/${ran.get(host)}`);
      expect(await link.textContent()).toBe(ran.get(host)!.slice(`${host}.`.length, `${host}.`.length + 8));
      if (n < 2) await poll(() => waveText(n + 2)).toMatch(/running|queued/);
    }
    await poll(heading).toBe("shop @ main succeeded");
    await poll(() => page.locator(".stream-state").textContent()).toBe("Finished");
    expect(await page.evaluate(() => (window as any).sameTab)).toBe(true);
    expect(await page.getByRole("button").filter({ hasText: /Pause|Resume|Cancel/ }).count()).toBe(0);
    // GitHub heard: the rollout's commit status, and where it shows.
    await poll(() => githubLine().textContent()).toBe("GitHub: deploybot/shop success · Commit on GitHub");
    expect(await githubLine().getByRole("link", { name: "Commit on GitHub" }).getAttribute("href")).toBe(`${github()}/acme/shop/commit/${RELEASE}`);
    expect(await audit(page)).toEqual([]);
    await screenshot(page, "16-rollout-succeeded");

    // Each host's job is linked to its page and log, with its own Deployment on GitHub.
    await page.getByRole("link", { name: `Job ${ran.get("shop-02")!.slice(8, 16)} on shop-02: its log` }).click();
    await poll(heading).toBe("shop @ main on shop-02 succeeded");
    await poll(() => githubLine().textContent()).toBe("GitHub: success · Deployment");
    expect(await githubLine().getByRole("link", { name: "Deployment" }).getAttribute("href")).toMatch(/^https:\/\/github\.test\/repos\/acme\/shop\/deployments\/\d+$/);
  });

  it("shows the live short sha on every host after the rollout, linked to the job that put it there", async () => {
    const page = pageOf();
    await page.goto(`${controllerOf().url}/#/apps`);
    await poll(() => shopRow().locator("td.rollout").textContent()).toBe("none");
    for (const host of SHOP_HOSTS) {
      const cell = shopRow().locator(`td[data-host="${host}"]`);
      expect(await cell.textContent()).toMatch(/^abc1234for \d+ (s|m \d\d s)$/);
      expect(await cell.getByRole("link", { name: "abc1234" }).getAttribute("href")).toBe(`#/jobs/${ran.get(host)}`);
    }
    // A host the app does not run on has no cell content.
    expect(await shopRow().locator('td[data-host="web-01"]').textContent()).toBe("—");
    expect(await audit(page)).toEqual([]);
    await screenshot(page, "17-apps");
  });

  it("pauses, resumes and cancels a rollout, each after asking first, and shows the new status", async () => {
    const page = pageOf();
    const id = await rollout(NEXT);
    expect(id).not.toBe(first);
    await page.goto(`${controllerOf().url}/#/rollouts/${id}`);
    await poll(heading).toBe("shop @ main running");

    // Asked first: going back changes nothing.
    await page.getByRole("button", { name: "Pause rollout…" }).click();
    await poll(() => page.getByRole("dialog").textContent()).toContain("shop at def5678 (main), now running.");
    await screenshot(page, "18-rollout-pause-confirm");
    await confirmDialog("Back");
    expect((await stored(id)).status).toBe("running");
    expect(await heading()).toBe("shop @ main running");

    await page.getByRole("button", { name: "Pause rollout…" }).click();
    await confirmDialog("Pause rollout");
    await poll(() => page.locator("p.ok").textContent()).toBe("Rollout paused.");
    expect(await heading()).toBe("shop @ main paused");
    expect((await stored(id)).status).toBe("paused");

    // The canary's job was queued already: it runs, and the page follows it; no new wave starts.
    await deploy("shop-01");
    await poll(() => waveText(1)).toMatch(/^Wave 1 \(canary\) succeeded/);
    expect(await waveText(2)).toMatch(/^Wave 2 pending/);

    await page.getByRole("button", { name: "Resume rollout…" }).click();
    await confirmDialog("Resume rollout");
    await poll(() => page.locator("p.ok").textContent()).toBe("Rollout running.");
    await poll(() => waveText(2)).toMatch(/^Wave 2 running.*shop-02queued/);

    await page.getByRole("button", { name: "Cancel rollout…" }).click();
    await poll(() => page.getByRole("dialog").textContent()).toContain("This cannot be undone.");
    await confirmDialog("Cancel rollout");
    await poll(() => page.locator("p.ok").textContent()).toBe("Rollout cancelled.");
    expect(await heading()).toBe("shop @ main cancelled");
    await poll(() => waveText(3)).toMatch(/^Wave 3 cancelled/);
    const after = await stored(id);
    expect(after.status).toBe("cancelled");
    expect(after.waves.map((w) => w.status)).toEqual(["succeeded", "cancelled", "cancelled"]);
    await poll(() => githubLine().textContent()).toBe("GitHub: deploybot/shop error · Commit on GitHub");
    expect(await page.getByRole("button").filter({ hasText: /Pause|Resume|Cancel/ }).count()).toBe(0);
    expect(await audit(page)).toEqual([]);
    await screenshot(page, "19-rollout-cancelled");
  });

  it("locks an app from the Apps page after asking why, shows who, when and why, and unlocks it", async () => {
    const page = pageOf();
    await page.goto(`${controllerOf().url}/#/apps`);
    await poll(() => shopRow().locator("td.lock").textContent()).toBe("Lock…");
    await shopRow().getByRole("button", { name: "Lock shop" }).click();
    await page.getByRole("dialog").getByLabel("Why").fill("database migration");
    await page.getByRole("dialog").getByLabel("Who (optional)").fill("alice");
    expect(await audit(page)).toEqual([]);
    await screenshot(page, "20-apps-lock-confirm");
    await confirmDialog("Lock app");
    await poll(() => page.locator("p.ok").textContent()).toBe("shop locked.");
    await poll(() => shopRow().locator("td.lock").textContent()).toMatch(/^Locked by alice, (just now|\d+ sec\. ago)database migrationUnlock…$/);
    expect(await shopRow().locator("td.lock q").textContent()).toBe("database migration");
    const { apps } = (await (await api(controllerOf(), "/v1/apps")).json()) as { apps: Array<{ name: string; lock: unknown }> };
    expect(apps.find((a) => a.name === "shop")!.lock).toMatchObject({ reason: "database migration", locked_by: "alice" });
    expect(await shopRow().locator("td.lock time").getAttribute("datetime")).toMatch(/^\d{4}-\d\d-\d\dT/);
    await screenshot(page, "21-apps-locked");

    await shopRow().getByRole("button", { name: "Unlock shop" }).click();
    await poll(() => page.getByRole("dialog").textContent()).toContain("Locked by alice: “database migration”.");
    await confirmDialog("Unlock app");
    await poll(() => page.locator("p.ok").textContent()).toBe("shop unlocked.");
    await poll(() => shopRow().locator("td.lock").textContent()).toBe("Lock…");
  });

  return { firstRollout: () => first };
}
