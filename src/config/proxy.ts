import { z } from "zod";

/**
 * apps.yaml's `deploy.proxy` block: the app is served behind the host's Caddy
 * and every deploy is a zero-downtime cutover (docs/deploy-steps.md). Kept
 * apart from apps.ts so the rules of the cutover read in one place.
 */

/** `0.0.0.0:80`, `127.0.0.1:8080`, `[::]:443` or `:80` (every address). */
const LISTEN = /^(?:(?:\d{1,3}\.){3}\d{1,3}|\[[0-9A-Fa-f:.]+\])?:(\d{1,5})$/;
/** Caddy's admin API must stay on loopback: it takes whole configs from whoever reaches it. */
const ADMIN = /^(?:127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]):(\d{1,5})$/;
const HOSTNAME = /^(?=.{1,253}$)(?:\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A string PATTERN matches whose first group is a port from 1 to 65535. */
const port = (pattern: RegExp, message: string) =>
  z.string().refine((value) => {
    const number = Number(pattern.exec(value)?.[1]);
    return number >= 1 && number <= 65535;
  }, message);

/** The proxy block's schema; `duration` is apps.yaml's own duration type ("30s", "5m", or seconds). */
export function proxySchema(duration: z.ZodType<number, number | string>) {
  return z.strictObject({
    listen: port(LISTEN, 'listen is the address and port the app is served on, such as "0.0.0.0:80" or ":80"'),
    host: z.string().regex(HOSTNAME, "host must be a DNS name such as web.example.com").optional(),
    app_port: z.number().int().min(1, "app_port must be from 1 to 65535").max(65535, "app_port must be from 1 to 65535"),
    drain: z.union([z.literal(0), duration]).optional().transform((seconds) => seconds ?? 30),
    admin: port(ADMIN, 'admin is Caddy\'s admin API on this host\'s loopback, such as "127.0.0.1:2019"').default("127.0.0.1:2019"),
  });
}

export type ProxySpec = z.output<ReturnType<typeof proxySchema>>;

interface DeployShape {
  ports: string[];
  proxy?: ProxySpec | undefined;
  health?: { url?: string | undefined; path?: string | undefined } | undefined;
}

/**
 * The rules that tie `proxy`, `ports` and `health` together: an app is served
 * either behind the proxy (zero downtime) or on `ports` (stop-then-start, a
 * short outage), never both; behind the proxy health is a `path` checked on
 * the new container, otherwise a `url`.
 */
export function checkProxyRules(deploy: DeployShape, ctx: z.RefinementCtx): void {
  if (deploy.proxy && deploy.ports.length > 0) {
    ctx.addIssue({ code: "custom", path: ["proxy"], message: "an app has either proxy (zero-downtime) or ports (stop-then-start), not both" });
  }
  const health = deploy.health;
  if (!health) return;
  if (deploy.proxy) {
    if (health.url !== undefined) ctx.addIssue({ code: "custom", path: ["health", "url"], message: "behind the proxy, health takes path (checked on the new container before traffic moves), not url" });
    if (health.path === undefined) ctx.addIssue({ code: "custom", path: ["health"], message: "behind the proxy, health needs a path such as /up" });
  } else {
    if (health.path !== undefined) ctx.addIssue({ code: "custom", path: ["health", "path"], message: "health.path needs a proxy block; without one, give health.url" });
    if (health.url === undefined) ctx.addIssue({ code: "custom", path: ["health"], message: "health needs a url (or, with a proxy block, a path)" });
  }
}

/** Two apps on one host sharing a listen address and Host (or both without one) would fight over one route. */
export function checkProxyConflicts(
  apps: Record<string, { hosts: string[]; deploy: { proxy?: ProxySpec | undefined } }>,
  ctx: z.RefinementCtx,
): void {
  const seen = new Map<string, string>();
  for (const [name, app] of Object.entries(apps)) {
    const proxy = app.deploy.proxy;
    if (!proxy) continue;
    for (const host of app.hosts) {
      const key = `${host}\n${proxy.listen}\n${proxy.host ?? ""}`;
      const other = seen.get(key);
      if (other !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["apps", name, "deploy", "proxy"],
          message: `app "${other}" is already served on ${proxy.listen}${proxy.host ? ` for host ${proxy.host}` : " for every host"} on ${host}; give one of them another host or listen address`,
        });
      } else {
        seen.set(key, name);
      }
    }
  }
}
