import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as commands from "../src/commands.ts";
import { shellQuote } from "../src/quote.ts";

/** An argv as a reader sees it (tests compare these strings, as Kamal's command tests do). */
const line = (argv: readonly string[]) => argv.join(" ");

describe("docker command builders", () => {
  it("pull and image inspect", () => {
    assert.equal(line(commands.dockerPull("registry.example.com/acme/web:abc123")), "docker pull registry.example.com/acme/web:abc123");
    assert.equal(line(commands.dockerImageInspect("acme/web:1")), "docker image inspect --format {{.Id}} acme/web:1");
  });

  it("finds a container by exact name, escaping the regex dot, optionally by label", () => {
    assert.equal(line(commands.dockerFindContainer("web")), "docker ps -a --no-trunc --filter name=^web$ --format {{.ID}} {{.State}}");
    assert.equal(line(commands.dockerFindContainer("web.v2")), "docker ps -a --no-trunc --filter name=^web\\.v2$ --format {{.ID}} {{.State}}");
    assert.equal(
      line(commands.dockerFindContainer("web", { key: "deploybot.job", value: "j1" })),
      "docker ps -a --no-trunc --filter name=^web$ --filter label=deploybot.job=j1 --format {{.ID}} {{.State}}",
    );
  });

  it("finds the containers an interrupted deploy of one app's container parked", () => {
    assert.equal(
      line(commands.dockerFindParked("web.v2", "shop")),
      "docker ps -a --no-trunc --filter name=^web\\.v2-previous- --filter label=deploybot.app=shop --format {{.Names}} {{.ID}} {{.State}}",
    );
  });

  it("rename, stop (10 s grace), start, rm -f, logs", () => {
    assert.equal(line(commands.dockerRename("web", "web-previous-j1")), "docker rename web web-previous-j1");
    assert.equal(line(commands.dockerStop("web-previous-j1")), "docker stop --time 10 web-previous-j1");
    assert.equal(line(commands.dockerStop("web", 3)), "docker stop --time 3 web");
    assert.equal(line(commands.dockerStart("web")), "docker start web");
    assert.equal(line(commands.dockerRemove("web")), "docker rm -f web");
    assert.equal(line(commands.dockerLogs("web", 20)), "docker logs --tail 20 web");
  });

  it("run: detached, name, restart policy, ports, env, labels, image last; env values only on stdin", () => {
    const run = commands.dockerRun({
      name: "web",
      image: "acme/web:abc",
      ports: ["8080:80", "127.0.0.1:9090:90/udp"],
      env: { APP_ENV: "production", QUOTED: `it's "x"\nline2`, DOCKER_HOST: "tcp://dind:2375" },
      labels: { "deploybot.app": "web", "deploybot.sha": "abc", "deploybot.job": "j1" },
    });
    // What goes on the command line (and so in `ps`): a shell reading its script from stdin.
    assert.deepEqual(run.argv, ["sh", "-s"]);
    assert.equal(
      run.stdin,
      [
        `export 'APP_ENV=production'`,
        `export 'QUOTED=it'\\''s "x"\nline2'`,
        "exec 'docker' 'run' '-d' '--name' 'web' '--restart' 'unless-stopped' '-p' '8080:80' '-p' '127.0.0.1:9090:90/udp' " +
          "'-e' 'APP_ENV' '-e' 'QUOTED' '-e' 'DOCKER_HOST=tcp://dind:2375' " +
          "'--label' 'deploybot.app=web' '--label' 'deploybot.sha=abc' '--label' 'deploybot.job=j1' 'acme/web:abc'",
        "",
      ].join("\n"),
    );
  });

  it("run: a name the docker CLI reads for itself is not exported", () => {
    for (const key of ["PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG", "LD_PRELOAD", "LD_LIBRARY_PATH"]) assert.equal(commands.dockerReadsEnv(key), true, key);
    for (const key of ["APP_PATH", "HOMEPAGE", "MY_DOCKER_HOST", "API_TOKEN", "OLD_PATH"]) assert.equal(commands.dockerReadsEnv(key), false, key);
  });

  it("ps -a as JSON lines, df, /proc", () => {
    assert.equal(line(commands.dockerPsAll()), "docker ps -a --no-trunc --format {{json .}}");
    assert.equal(line(commands.diskFree()), "df -P -B1");
    assert.equal(line(commands.readProcFiles()), "cat /proc/sys/kernel/hostname /proc/uptime /proc/loadavg /proc/meminfo");
  });

  it("health probes with curl or wget, and detecting them", () => {
    assert.equal(line(commands.commandExists("curl")), "command -v curl");
    assert.equal(line(commands.curlProbe("http://127.0.0.1:8080/up", 5)), "curl -sS -o /dev/null -w %{http_code} --max-time 5 http://127.0.0.1:8080/up");
    assert.equal(line(commands.wgetProbe("http://127.0.0.1:8080/up", 5)), "wget -S -O /dev/null -T 5 http://127.0.0.1:8080/up");
  });

  it("kills a process group, refusing ids that would hit everything", () => {
    assert.equal(line(commands.killProcessGroup(4242)), "kill -s KILL -- -4242");
    assert.throws(() => commands.killProcessGroup(1));
    assert.throws(() => commands.killProcessGroup(0));
    assert.throws(() => commands.killProcessGroup(Number.NaN));
  });

  it("wraps a user's command line so the shell reports its process group first", () => {
    assert.equal(commands.withPgidReport("uptime && df -h"), `printf '\\036deploybot-relay-pgid:%s\\n' "$$" >&2; eval 'uptime && df -h'`);
    assert.equal(commands.withPgidReport("echo 'hi'"), `printf '\\036deploybot-relay-pgid:%s\\n' "$$" >&2; eval 'echo '\\''hi'\\'''`);
  });

  it("every builder's output is quoted by shellQuote, argument by argument", () => {
    assert.equal(shellQuote(commands.dockerPull("a b;c")), "'docker' 'pull' 'a b;c'");
  });
});

describe("cutover command builders", () => {
  it("Caddy's admin API through curl: failing with Caddy's body, a POST body only on stdin", () => {
    assert.equal(line(commands.caddyAdmin("127.0.0.1:2019", "GET", "/config/")), "curl -sS --fail-with-body --max-time 30 -X GET http://127.0.0.1:2019/config/");
    assert.equal(
      line(commands.caddyAdmin("127.0.0.1:2019", "POST", "/load")),
      "curl -sS --fail-with-body --max-time 30 -X POST -H Content-Type: application/json --data-binary @- http://127.0.0.1:2019/load",
    );
    assert.equal(line(commands.caddyAdmin("[::1]:2999", "GET", "/reverse_proxy/upstreams")), "curl -sS --fail-with-body --max-time 30 -X GET http://[::1]:2999/reverse_proxy/upstreams");
    assert.match(shellQuote(commands.caddyAdmin("127.0.0.1:2019", "POST", "/load")), / '-H' 'Content-Type: application\/json' /);
  });

  it("the new release's name, the port table, and the live release with the leftovers of interrupted cutovers", () => {
    assert.equal(commands.nextPrefix("web"), "web-next-");
    assert.equal(line(commands.readMigrateReq()), "cat /proc/sys/net/ipv4/tcp_migrate_req");
    assert.equal(line(commands.readPortTable()), "cat /proc/sys/net/ipv4/ip_local_port_range /proc/net/tcp /proc/net/tcp6");
    assert.equal(commands.safeJobId("01J/x y:z"), "01J-x-y-z");
    assert.equal(
      line(commands.dockerListReleases("web.v2")),
      "docker ps -a --no-trunc --filter name=^web\\.v2(-next-.+)?$ --format {{.Names}} {{.ID}} {{.State}} {{.Ports}}",
    );
  });

  it("the new release runs with its app port on the loopback port the cutover chose", () => {
    const spec = commands.dockerRun({ name: "web-next-j1", image: "r/web:1", ports: ["127.0.0.1:41234:3000"], env: {}, labels: {} });
    assert.match(spec.stdin, /^exec 'docker' 'run' '-d' '--name' 'web-next-j1' '--restart' 'unless-stopped' '-p' '127\.0\.0\.1:41234:3000' 'r\/web:1'$/m);
  });
});
