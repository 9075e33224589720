import { isMap, LineCounter, parseDocument, visit, type Node } from "yaml";
import { z } from "zod";
import { imageProblems, MAX_APPS, MAX_CONFIG_BYTES, MAX_HOSTS, MAX_HOSTS_PER_APP, plainUrl, sshAddress, sshHostKey } from "./fields.ts";
import { checkEnvironments, environmentFlag, environmentSchema, environmentUrlSchema, notifySchema } from "./notify.ts";
import { checkProxyConflicts, checkProxyRules, proxySchema } from "./proxy.ts";
import { rolloutSchema } from "./rollout.ts";

/** Template variables an image, container name or env value may use. */
export const TEMPLATE_VARIABLES = ["sha", "short_sha", "ref", "branch", "repo", "app"] as const;
type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];

const DURATION = /^(\d+)(ms|s|m|h)$/;
const UNIT_SECONDS = { ms: 0.001, s: 1, m: 60, h: 3600 } as const;

/** A duration as apps.yaml writes it ("60s", "5m", or a number of seconds) in seconds. */
const duration = z
  .union([
    z.number().positive(),
    z.string().regex(DURATION, 'expected a duration such as "30s", "5m" or "1h"'),
  ])
  .transform((value) => {
    if (typeof value === "number") return value;
    const [, amount, unit] = DURATION.exec(value)!;
    return Number(amount) * UNIT_SECONDS[unit as keyof typeof UNIT_SECONDS];
  });

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const name = (what: string) =>
  z.string().regex(NAME, `${what} must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`);

const templated = z.string().min(1).max(1024).superRefine((value, ctx) => {
  for (const match of value.matchAll(/\{([^{}]*)\}/g)) {
    if (!TEMPLATE_VARIABLES.includes(match[1] as TemplateVariable)) {
      ctx.addIssue({
        code: "custom",
        message: `unknown template variable {${match[1]}}; known: ${TEMPLATE_VARIABLES.map((v) => `{${v}}`).join(", ")}`,
      });
    }
  }
});

const PORT = /^(?:(?:\d{1,3}\.){3}\d{1,3}:)?\d{1,5}:\d{1,5}(?:\/(?:tcp|udp))?$/;

const sshSchema = z.strictObject({
  address: sshAddress,
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, "user must be a valid Unix user name"),
  host_key: sshHostKey,
});

const hostSchema = z.discriminatedUnion("mode", [
  z.strictObject({ mode: z.literal("agent") }),
  z.strictObject({ mode: z.literal("ssh"), ssh: sshSchema }),
]);

const healthSchema = z.strictObject({
  url: plainUrl.pipe(z.url({ protocol: /^https?$/, error: "health.url must be an http(s) URL" })).optional(),
  path: z.string().regex(/^\/[^\s?#]*$/, "health.path is a path such as /up").optional(),
  timeout: duration.default(30),
});

const deploySchema = z.strictObject({
  image: templated.superRefine((value, ctx) => {
    for (const message of imageProblems(value)) ctx.addIssue({ code: "custom", message });
  }),
  container: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "container must be a valid Docker container name"),
  ports: z.array(z.string().regex(PORT, 'ports entries look like "8080:80" or "127.0.0.1:8080:80"')).default([]),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "env names are letters, digits and '_'"), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
  health: healthSchema.optional(),
  proxy: proxySchema(duration).optional(),
}).superRefine(checkProxyRules);

const appSchema = z.strictObject({
  repo: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'repo must be a GitHub full name such as "acme/web"'),
  branches: z.array(z.string().min(1)).default([]),
  tags: z.array(z.string().min(1)).default([]),
  hosts: z
    .array(name("host name"))
    .min(1, "an app needs at least one host")
    .max(MAX_HOSTS_PER_APP, `an app deploys to at most ${MAX_HOSTS_PER_APP} hosts`),
  deploy: deploySchema,
  rollout: rolloutSchema,
  /** A newer push cancels an unfinished rollout's waves; false: rollouts queue in order. */
  supersede: z.boolean().default(true),
  environment: environmentSchema,
  transient_environment: environmentFlag,
  production_environment: environmentFlag,
  environment_url: environmentUrlSchema,
  notify: notifySchema,
});

const defaultsSchema = z.strictObject({
  lease: duration.default(60),
  retries: z.number().int().min(0).max(10).default(1),
});

const configSchema = z
  .strictObject({
    version: z.literal(1, "version must be 1"),
    defaults: defaultsSchema.default({ lease: 60, retries: 1 }),
    hosts: z.record(name("host name"), hostSchema),
    apps: z.record(name("app name"), appSchema),
  })
  .superRefine((config, ctx) => {
    const hostCount = Object.keys(config.hosts).length;
    const appCount = Object.keys(config.apps).length;
    if (hostCount > MAX_HOSTS) ctx.addIssue({ code: "custom", path: ["hosts"], message: `${hostCount} hosts; apps.yaml may define at most ${MAX_HOSTS}` });
    if (appCount > MAX_APPS) ctx.addIssue({ code: "custom", path: ["apps"], message: `${appCount} apps; apps.yaml may define at most ${MAX_APPS}` });
    checkProxyConflicts(config.apps, ctx);
    checkEnvironments(config.apps, ctx);
    for (const [appName, app] of Object.entries(config.apps)) {
      app.hosts.forEach((host, index) => {
        if (!(host in config.hosts)) {
          ctx.addIssue({
            code: "custom",
            path: ["apps", appName, "hosts", index],
            message: `host "${host}" is not defined under hosts`,
          });
        }
      });
      app.rollout.canary.forEach((host, index) => {
        if (!app.hosts.includes(host)) {
          ctx.addIssue({
            code: "custom",
            path: ["apps", appName, "rollout", "canary", index],
            message: `canary host "${host}" is not one of this app's hosts`,
          });
        }
      });
      if (app.branches.length === 0 && app.tags.length === 0) {
        ctx.addIssue({
          code: "custom",
          path: ["apps", appName],
          message: "an app needs at least one entry in branches or tags, or no push would deploy it",
        });
      }
    }
  });

export type AppsConfig = z.output<typeof configSchema>;
export type AppConfig = AppsConfig["apps"][string];
export type HostConfig = AppsConfig["hosts"][string];
export type DeploySpec = AppConfig["deploy"];

/** One problem in an apps.yaml file, located for the person who wrote it. */
export interface ConfigProblem {
  path: string;
  line: number;
  column: number;
  message: string;
}

export type ParseResult = { ok: true; config: AppsConfig } | { ok: false; problems: ConfigProblem[] };

/**
 * Parses and validates an apps.yaml text. Every problem, syntactic or semantic,
 * comes back with its 1-based line and column; nothing throws on bad input.
 */
export function parseAppsYaml(text: string): ParseResult {
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > MAX_CONFIG_BYTES) {
    // Not even parsed: a file this size is not a configuration someone wrote by hand.
    return { ok: false, problems: [{ path: "", line: 1, column: 1, message: `apps.yaml is ${bytes} bytes; at most ${MAX_CONFIG_BYTES} (1 MiB)` }] };
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const position = (offset: number) => lineCounter.linePos(offset);

  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((error) => {
        const { line, col } = position(error.pos[0]);
        // The library appends "at line L, column C:" and a code excerpt; we report those as fields.
        const message = (error.message.split("\n")[0] ?? error.code).replace(/ at line \d+, column \d+:?\s*$/, "");
        return { path: "", line, column: col, message };
      }),
    };
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // An alias to an anchor that is not (yet) set, or an alias explosion: the parser accepts these,
    // converting them throws. Report the first offending alias where it stands.
    let offset = 0;
    visit(doc, {
      Alias(_key, node) {
        if (node.resolve(doc) === undefined) {
          offset = node.range?.[0] ?? 0;
          return visit.BREAK;
        }
        return undefined;
      },
    });
    const { line, col } = position(offset);
    return { ok: false, problems: [{ path: "", line, column: col, message: (err as Error).message }] };
  }

  const result = configSchema.safeParse(data ?? {});
  if (result.success) return { ok: true, config: result.data };

  const problems = result.error.issues.map((issue) => {
    const path = issue.path.map(String);
    const { line, col } = position(locate(doc.contents, path, text.length));
    const missing = issue.code === "invalid_type" && /received undefined$/.test(issue.message);
    const message = missing ? `"${path.at(-1)}" is required here` : issue.message;
    return { path: path.join("."), line, column: col, message };
  });
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  return { ok: false, problems };
}

/**
 * The source offset of the deepest node on `path` that exists: the node itself,
 * or for a missing key its parent map (where the key should have been).
 * Keys that are themselves wrong (unknown keys, bad record keys) point at the key.
 */
function locate(root: unknown, path: string[], fallback: number): number {
  let node = root as Node | null | undefined;
  let offset = node?.range?.[0] ?? 0;
  for (const key of path) {
    if (!isMap(node) && !(node && "items" in node)) break;
    const items = (node as { items: unknown[] }).items;
    const next = isMap(node)
      ? node.items.find((pair) => String((pair.key as Node | null)?.toJSON?.() ?? pair.key) === key)
      : items[Number(key)];
    if (next === undefined) break;
    if (isMap(node)) {
      const pair = next as { key: Node | null; value: Node | null };
      offset = pair.value?.range?.[0] ?? pair.key?.range?.[0] ?? offset;
      node = pair.value;
      if (!pair.value) {
        offset = pair.key?.range?.[0] ?? offset;
        break;
      }
    } else {
      node = next as Node;
      offset = node?.range?.[0] ?? offset;
    }
  }
  return Math.min(offset, fallback);
}

/** A glob with `*` (any run of characters) as a whole-string matcher. */
export function globToRegExp(glob: string): RegExp {
  const escaped = glob.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${escaped.join(".*")}$`);
}

/** The kind and short name of a git ref: refs/heads/main → branch main; refs/tags/v1 → tag v1. */
export function describeRef(ref: string): { kind: "branch" | "tag" | "other"; name: string } {
  if (ref.startsWith("refs/heads/")) return { kind: "branch", name: ref.slice("refs/heads/".length) };
  if (ref.startsWith("refs/tags/")) return { kind: "tag", name: ref.slice("refs/tags/".length) };
  return { kind: "other", name: ref };
}

/** Whether a push to `ref` should deploy `app`, by its branch and tag filters. */
export function tracksRef(app: AppConfig, ref: string): boolean {
  const { kind, name: short } = describeRef(ref);
  const patterns = kind === "branch" ? app.branches : kind === "tag" ? app.tags : [];
  return patterns.some((pattern) => globToRegExp(pattern).test(short));
}

/** Apps whose repo is `repo` (GitHub full names compare case-insensitively). */
export function appsForRepo(config: AppsConfig, repo: string): Array<[string, AppConfig]> {
  const wanted = repo.toLowerCase();
  return Object.entries(config.apps).filter(([, app]) => app.repo.toLowerCase() === wanted);
}

/**
 * Expands a ref as a person types it ("main", "v1.2", "refs/heads/x") to a full
 * ref: a name that only the app's tag patterns match is a tag, anything else a branch.
 */
export function normaliseRef(app: AppConfig, ref: string): string {
  if (ref.startsWith("refs/")) return ref;
  const isTag = app.tags.some((p) => globToRegExp(p).test(ref));
  const isBranch = app.branches.some((p) => globToRegExp(p).test(ref));
  return isTag && !isBranch ? `refs/tags/${ref}` : `refs/heads/${ref}`;
}

export interface TemplateValues {
  sha: string;
  ref: string;
  repo: string;
  app: string;
}

/** Fills `{sha}`, `{short_sha}`, `{ref}`, `{branch}`, `{repo}` and `{app}` in one string. */
export function renderTemplate(template: string, values: TemplateValues): string {
  const { name: short } = describeRef(values.ref);
  const table: Record<TemplateVariable, string> = {
    sha: values.sha,
    short_sha: values.sha.slice(0, 7),
    ref: values.ref,
    branch: short,
    repo: values.repo,
    app: values.app,
  };
  return template.replace(/\{([a-z_]+)\}/g, (whole, key: string) =>
    key in table ? table[key as TemplateVariable] : whole,
  );
}

/** The deploy section with every template filled: what an agent or the relay runs. */
export function renderDeploy(deploy: DeploySpec, values: TemplateValues): DeploySpec {
  const env = Object.fromEntries(Object.entries(deploy.env).map(([k, v]) => [k, renderTemplate(v, values)]));
  return {
    ...deploy,
    image: renderTemplate(deploy.image, values),
    env,
  };
}
