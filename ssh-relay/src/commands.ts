/**
 * Commands the relay runs on a target, as pure builders that return argv
 * arrays (Kamal's lib/kamal/commands, in TypeScript). Nothing here touches a
 * network or a shell: `shellQuote` (quote.ts) turns an argv into the one
 * command line sent over SSH, and pool.ts runs it. test/commands.test.ts pins
 * every builder as a string.
 *
 * Assumptions: the target has the docker CLI on the login user's PATH and may
 * use it (root, or a member of the docker group); values were validated at the
 * edge (request.ts), so a container name is `[A-Za-z0-9][A-Za-z0-9_.-]*` and
 * an image never starts with `-` — quoting keeps a value from running, but
 * only validation keeps it from being read as an option.
 */

import { shellQuote } from "./quote.ts";

export type Argv = readonly string[];

/** Labels every container a deploy starts carries (the agent uses the same). */
export const LABEL_APP = "deploybot.app";
export const LABEL_SHA = "deploybot.sha";
export const LABEL_JOB = "deploybot.job";

/** Seconds `docker stop` waits before SIGKILL, as the .NET agent. */
export const STOP_GRACE_S = 10;

export interface RunSpec {
  name: string;
  image: string;
  /** `"8080:80"`, `"127.0.0.1:8080:80"`, optionally with `/tcp` or `/udp`. */
  ports: readonly string[];
  env: Readonly<Record<string, string>>;
  labels: Readonly<Record<string, string>>;
  /** Docker restart policy; the agent uses `unless-stopped`. */
  restart?: string;
}

/** `docker pull IMAGE`: always pull, a tag may have moved. */
export function dockerPull(image: string): Argv {
  return ["docker", "pull", image];
}

/** Exit 0 when IMAGE is on the host (used when a pull fails). */
export function dockerImageInspect(image: string): Argv {
  return ["docker", "image", "inspect", "--format", "{{.Id}}", image];
}

/**
 * The container called exactly NAME, one line `ID STATE` or nothing. `docker
 * ps` exits 0 either way, so "absent" is not confused with "docker failed".
 * The name filter is a regular expression; `.` is the only meta character a
 * valid container name can hold.
 */
export function dockerFindContainer(name: string, label?: { key: string; value: string }): Argv {
  const argv = ["docker", "ps", "-a", "--no-trunc", "--filter", `name=^${escapeRegex(name)}$`];
  if (label) argv.push("--filter", `label=${label.key}=${label.value}`);
  argv.push("--format", "{{.ID}} {{.State}}");
  return argv;
}

/**
 * Containers a deploy of APP's container NAME parked (`NAME-previous-<job>`),
 * one line `NAME ID STATE` each: left behind only when a deploy was
 * interrupted (deploy.ts). The app label keeps another app's container that
 * happens to be called `NAME-previous-…` out of it.
 */
export function dockerFindParked(name: string, app: string): Argv {
  return [
    "docker", "ps", "-a", "--no-trunc",
    "--filter", `name=^${escapeRegex(parkedPrefix(name))}`,
    "--filter", `label=${LABEL_APP}=${app}`,
    "--format", "{{.Names}} {{.ID}} {{.State}}",
  ];
}

/** What a deploy renames the running container to while it starts the new one, before the job id. */
export function parkedPrefix(name: string): string {
  return `${name}-previous-`;
}

/** What a cutover names the new release while the old one still serves, before the job id. */
export function nextPrefix(name: string): string {
  return `${name}-next-`;
}

/** A job id fit for a container name, as the agent makes it: anything but letters, digits, '_', '.' and '-' becomes '-'. */
export function safeJobId(jobId: string): string {
  return jobId.replace(/[^A-Za-z0-9_.-]/g, "-");
}

/**
 * The live container NAME and the releases a cutover started beside it
 * (`NAME-next-<job>`), one line `NAME ID STATE PORTS` each, PORTS as docker
 * shows them (`127.0.0.1:41234->80/tcp`, empty when the container is not
 * running): what a cutover's proxy step needs from docker, in one command.
 */
export function dockerListReleases(name: string): Argv {
  return ["docker", "ps", "-a", "--no-trunc", "--filter", `name=^${escapeRegex(name)}(-next-.+)?$`, "--format", "{{.Names}} {{.ID}} {{.State}} {{.Ports}}"];
}

export function dockerRename(from: string, to: string): Argv {
  return ["docker", "rename", from, to];
}

export function dockerStop(name: string, graceSeconds: number = STOP_GRACE_S): Argv {
  return ["docker", "stop", "--time", String(graceSeconds), name];
}

export function dockerStart(name: string): Argv {
  return ["docker", "start", name];
}

export function dockerRemove(name: string): Argv {
  return ["docker", "rm", "-f", name];
}

/** A command and what it is given on stdin. */
export interface Scripted {
  argv: Argv;
  stdin: string;
}

/**
 * Env names that change how the docker CLI itself runs: exported for `docker
 * run`, they would change where it connects, finds its config, or which
 * libraries the loader gives it, so their values go on the command line
 * instead (visible in `ps`, as before).
 */
export function dockerReadsEnv(key: string): boolean {
  return key === "PATH" || key === "HOME" || key.startsWith("DOCKER_") || key.startsWith("LD_");
}

/**
 * `docker run -d` with name, restart policy, ports, env and labels; the image
 * last. Env values stay off every command line, where any user of the target
 * could read them in `ps`: `sh -s` reads a script on stdin that exports each
 * value and then `exec`s `docker run -e NAME …`, which takes the value from its
 * environment (readable only by the same user and root). The script quotes
 * values with shellQuote like any argument, so quotes and newlines arrive byte
 * for byte. Names are shell identifiers (request.ts), as apps.yaml requires.
 */
export function dockerRun(spec: RunSpec): Scripted {
  const { name, image, ports, env, labels, restart = "unless-stopped" } = spec;
  const entries = Object.entries(env);
  const exported = entries.filter(([key]) => !dockerReadsEnv(key));
  const run = [
    "docker", "run", "-d",
    "--name", name,
    "--restart", restart,
    ...ports.flatMap((port) => ["-p", port]),
    // `-e K=V` as one argv entry: docker splits at the first `=`, so a value
    // may hold `=`, quotes or newlines. `-e K` alone: K's value from the environment.
    ...entries.flatMap(([key, value]) => ["-e", dockerReadsEnv(key) ? `${key}=${value}` : key]),
    ...Object.entries(labels).flatMap(([key, value]) => ["--label", `${key}=${value}`]),
    image,
  ];
  const stdin = [
    ...exported.map(([key, value]) => `export ${shellQuoteOne(`${key}=${value}`)}`),
    `exec ${shellQuote(run)}`,
    "",
  ].join("\n");
  return { argv: ["sh", "-s"], stdin };
}

/** The container's last LINES lines of output, on their own streams. */
export function dockerLogs(name: string, lines: number): Argv {
  return ["docker", "logs", "--tail", String(lines), name];
}

/** Every container, one JSON object per line. */
export function dockerPsAll(): Argv {
  return ["docker", "ps", "-a", "--no-trunc", "--format", "{{json .}}"];
}

/** Exit 0 and the path when TOOL is on PATH (`command` is a POSIX builtin). */
export function commandExists(tool: string): Argv {
  return ["command", "-v", tool];
}

/**
 * One health probe with curl: prints the HTTP status (`000` when nothing
 * answered) and exits 0 for any answer; redirects are not followed.
 */
export function curlProbe(url: string, timeoutSeconds: number): Argv {
  return ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", String(timeoutSeconds), url];
}

/**
 * One health probe with wget (GNU or BusyBox): exits 0 only for a 2xx (after
 * redirects, which wget follows); `-S` prints the status line on stderr.
 */
export function wgetProbe(url: string, timeoutSeconds: number): Argv {
  return ["wget", "-S", "-O", "/dev/null", "-T", String(timeoutSeconds), url];
}

/**
 * One call of Caddy's admin API on the target (`ADMIN` is `127.0.0.1:2019`,
 * validated as loopback in request.ts): prints the body and exits non-zero
 * with Caddy's error on stdout for a 4xx/5xx (`--fail-with-body`), or with
 * curl's exit 7 when nothing listens. A body to send comes on stdin
 * (`--data-binary @-`), never on the command line.
 */
export function caddyAdmin(admin: string, method: "GET" | "POST", path: "/config/" | "/load" | "/reverse_proxy/upstreams"): Argv {
  const argv = ["curl", "-sS", "--fail-with-body", "--max-time", "30", "-X", method];
  if (method === "POST") argv.push("-H", "Content-Type: application/json", "--data-binary", "@-");
  argv.push(`http://${admin}${path}`);
  return argv;
}

/** 1 when the kernel moves connections queued on a closing SO_REUSEPORT socket to its successor (Caddy's reloads need it). */
export function readMigrateReq(): Argv {
  return ["cat", "/proc/sys/net/ipv4/tcp_migrate_req"];
}

/** The kernel's ephemeral port range, then its TCP socket tables (loopback-port.ts reads them; tcp6 may be absent). */
export function readPortTable(): Argv {
  return ["cat", "/proc/sys/net/ipv4/ip_local_port_range", "/proc/net/tcp", "/proc/net/tcp6"];
}

/** hostname, uptime, load and memory in one read: four files, in this order. */
export function readProcFiles(): Argv {
  return ["cat", "/proc/sys/kernel/hostname", "/proc/uptime", "/proc/loadavg", "/proc/meminfo"];
}

/** Disk usage in bytes, POSIX output (one line per file system). */
export function diskFree(): Argv {
  return ["df", "-P", "-B1"];
}

function shellQuoteOne(value: string): string {
  return shellQuote([value]);
}

function escapeRegex(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The first stderr line of every wrapped command: this marker, then the process group id. */
export const PGID_MARKER = "\x1edeploybot-relay-pgid:";

/**
 * Wraps a command line so that the shell first reports its process id on
 * stderr (a line the relay strips), then runs the command with `eval`.
 *
 * Why: sshd makes the session's shell a session and process-group leader
 * (setsid), so that id is the group of everything the command starts. To kill
 * a timed-out or cancelled command the relay sends a `signal` request, but
 * OpenSSH honours it only under privilege separation, which root logins do
 * not get; `kill -s KILL -- -PGID` over a second channel works for every user.
 * `eval` of the single-quoted command keeps the user's line exactly as typed
 * (a syntax error in it is reported by eval, after the marker).
 */
export function withPgidReport(command: string): string {
  return `printf '\\036deploybot-relay-pgid:%s\\n' "$$" >&2; eval ${shellQuoteOne(command)}`;
}

/** Kills process group PGID and everything in it. */
export function killProcessGroup(pgid: number): Argv {
  if (!Number.isInteger(pgid) || pgid <= 1) throw new RangeError(`not a process group id: ${pgid}`);
  return ["kill", "-s", "KILL", "--", `-${pgid}`];
}
