import { describe, expect, it } from "vitest";
import bundled from "../../apps.yaml";
import fixture from "../../test/fixtures/apps.test.yaml";
import { appsForRepo, normaliseRef, parseAppsYaml, renderDeploy, tracksRef, type ParseResult } from "./apps";

function problems(result: ParseResult) {
  if (result.ok) throw new Error("expected the file to be refused");
  return result.problems;
}

describe("parseAppsYaml", () => {
  it("accepts the bundled apps.yaml and the test fixture", () => {
    expect(parseAppsYaml(bundled).ok).toBe(true);
    const result = parseAppsYaml(fixture);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.defaults).toEqual({ lease: 60, retries: 1 });
    expect(result.config.apps.hello!.deploy.health).toEqual({ url: "http://127.0.0.1:8080/up", timeout: 30 });
    expect(result.config.hosts["host-03"]).toMatchObject({ mode: "ssh", ssh: { port: 2222, user: "deploy" } });
  });

  it("fills defaults and converts durations to seconds", () => {
    const result = parseAppsYaml(`version: 1
defaults: { lease: 2m }
hosts: { h1: { mode: agent } }
apps:
  a: { repo: o/r, branches: [main], hosts: [h1], deploy: { image: "x:{sha}", container: a, health: { url: "http://x/up" } } }
`);
    expect(result.ok && result.config.defaults).toEqual({ lease: 120, retries: 1 });
    expect(result.ok && result.config.apps.a!.deploy).toMatchObject({ ports: [], env: {}, health: { timeout: 30 } });
  });

  it("reports a YAML syntax error with its line and column", () => {
    const [problem] = problems(parseAppsYaml("version: 1\nhosts:\n  h1: { mode: agent }\n   h2: { mode: agent }\n"));
    expect(problem).toEqual({ path: "", line: 4, column: 1, message: "All mapping items must start at the same column" });
  });

  it("reports a duplicate key where it stands", () => {
    const [problem] = problems(parseAppsYaml("version: 1\nversion: 1\nhosts: {}\napps: {}\n"));
    expect(problem).toMatchObject({ line: 2, column: 1 });
    expect(problem!.message).toMatch(/unique/i);
  });

  it("reports a wrong value at the value's line and column", () => {
    const text = `version: 1
hosts:
  h1: { mode: agent }
apps:
  web:
    repo: not-a-full-name
    branches: [main]
    hosts: [h1]
    deploy: { image: "x", container: web }
`;
    const [problem] = problems(parseAppsYaml(text));
    expect(problem).toMatchObject({ path: "apps.web.repo", line: 6, column: 11 });
    expect(problem!.message).toMatch(/GitHub full name/);
  });

  it("reports a missing required key at its parent", () => {
    const text = `version: 1
hosts:
  h1: { mode: agent }
apps:
  web:
    repo: o/r
    branches: [main]
    hosts: [h1]
`;
    const [problem] = problems(parseAppsYaml(text));
    expect(problem).toMatchObject({ path: "apps.web.deploy", line: 6, column: 5 });
  });

  it("reports an unknown key, an unknown host and an unknown template variable, each located", () => {
    const text = `version: 1
hosts:
  h1: { mode: agent, colour: blue }
apps:
  web:
    repo: o/r
    branches: [main]
    hosts: [h1, h9]
    deploy:
      image: "registry/web:{commit}"
      container: web
`;
    const found = problems(parseAppsYaml(text));
    expect(found.map((p) => [p.path, p.line])).toEqual([
      ["hosts.h1", 3],
      ["apps.web.hosts.1", 8],
      ["apps.web.deploy.image", 10],
    ]);
    expect(found[0]!.message).toMatch(/colour/);
    expect(found[1]!.message).toBe('host "h9" is not defined under hosts');
    expect(found[1]!.column).toBe(17);
    expect(found[2]!.message).toMatch(/\{commit\}/);
  });

  it("refuses an app that no branch or tag would ever deploy", () => {
    const text = `version: 1
hosts: { h1: { mode: agent } }
apps:
  web:
    repo: o/r
    hosts: [h1]
    deploy: { image: x, container: web }
`;
    expect(problems(parseAppsYaml(text))).toEqual([
      { path: "apps.web", line: 5, column: 5, message: "an app needs at least one entry in branches or tags, or no push would deploy it" },
    ]);
  });

  it("refuses an ssh host without a pinned host key, a bad duration and a bad port", () => {
    const text = `version: 1
defaults: { lease: soon }
hosts:
  s1: { mode: ssh, ssh: { address: 10.0.0.1, user: deploy } }
apps:
  web:
    repo: o/r
    hosts: [s1]
    deploy: { image: x, container: web, ports: ["80"] }
`;
    const paths = problems(parseAppsYaml(text)).map((p) => `${p.line}:${p.path}`);
    expect(paths).toEqual(["2:defaults.lease", "4:hosts.s1.ssh.host_key", "9:apps.web.deploy.ports.0"]);
  });

  it("refuses an alias to an anchor that is not set, and an alias explosion, with a position (found by fuzzing)", () => {
    expect(problems(parseAppsYaml("*!"))[0]).toMatchObject({ line: 1, column: 1, message: expect.stringMatching(/Unresolved alias/) });
    expect(problems(parseAppsYaml("version: 1\nhosts: *nope\n"))[0]).toMatchObject({ line: 2, column: 8 });
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]", ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(", ")}]`)].join("\n");
    expect(problems(parseAppsYaml(bomb)).length).toBeGreaterThan(0);
  });

  it("refuses an empty file and a file that is not a mapping", () => {
    expect(problems(parseAppsYaml("")).length).toBeGreaterThan(0);
    expect(problems(parseAppsYaml("- just\n- a list\n"))[0]).toMatchObject({ line: 1, column: 1 });
  });
});

describe("values the runners would refuse later", () => {
  const withDeploy = (deploy: string, ssh = "address: 10.0.0.1") => `version: 1
hosts:
  h1: { mode: agent }
  s1: { mode: ssh, ssh: { ${ssh}, user: deploy, host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl" } }
apps:
  web:
    repo: o/r
    branches: [main]
    hosts: [h1, s1]
    deploy: ${deploy}
`;

  it.each([
    ['{ image: "-x", container: web }', /Docker image reference/],
    ['{ image: "nginx; rm -rf /", container: web }', /Docker image reference/],
    ['{ image: "nginx latest", container: web }', /Docker image reference/],
    ['{ image: "{branch}", container: web }', /repository must be fixed/],
    ['{ image: "registry.test/{app}:1", container: web }', /repository must be fixed/],
    ['{ image: "Registry.test/Web:1", container: web }', /repository must be lowercase/],
    ['{ image: "r/web:{short_sha}", container: web, health: { url: "http://x/a b" } }', /spaces or control characters/],
  ])("refuses deploy %s at the value's line", (deploy, message) => {
    const [problem] = problems(parseAppsYaml(withDeploy(deploy)));
    expect(problem).toMatchObject({ line: 10 });
    expect(problem!.column).toBeGreaterThan(12);
    expect(problem!.message).toMatch(message);
  });

  it("accepts images with a registry port, a templated tag and a digest", () => {
    for (const image of ["127.0.0.1:5000/acme/web:{short_sha}", "nginx", "ghcr.io/o/r:v{sha}", "r/web@sha256:" + "a".repeat(64)]) {
      expect(parseAppsYaml(withDeploy(`{ image: "${image}", container: web }`)).ok).toBe(true);
    }
  });

  it("refuses an SSH address that is an option, and a host key of an unknown type or a mislabelled blob", () => {
    const option = problems(parseAppsYaml(withDeploy('{ image: "r/w:1", container: web }', 'address: "-oProxyCommand=touch /tmp/x"')));
    expect(option[0]).toMatchObject({ path: "hosts.s1.ssh.address", line: 4 });
    expect(option[0]!.message).toMatch(/host name or an IP address/);
    const key = (hostKey: string) => `version: 1
hosts:
  s1: { mode: ssh, ssh: { address: db.internal, user: deploy, host_key: "${hostKey}" } }
apps: {}
`;
    expect(problems(parseAppsYaml(key("ssh-dss AAAAB3NzaC1kc3M=")))[0]!.message).toMatch(/of type ssh-ed25519/);
    // An ssh-rsa line whose blob is an ed25519 key: the relay would refuse it at deploy time.
    expect(problems(parseAppsYaml(key("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")))[0]).toMatchObject({ line: 3, path: "hosts.s1.ssh.host_key" });
    expect(parseAppsYaml(key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")).ok).toBe(true);
  });
});

describe("size bounds", () => {
  const hosts = (n: number) => Array.from({ length: n }, (_, i) => `  h${i}: { mode: agent }`).join("\n");

  it("refuses more than 5,000 hosts, 500 apps or 1,000 hosts per app, located", () => {
    const many = problems(parseAppsYaml(`version: 1\nhosts:\n${hosts(5_001)}\napps: {}\n`));
    expect(many[0]).toMatchObject({ path: "hosts", line: 3 });
    expect(many[0]!.message).toMatch(/5001 hosts; apps.yaml may define at most 5000/);
    expect(parseAppsYaml(`version: 1\nhosts:\n${hosts(5_000)}\napps: {}\n`).ok).toBe(true);

    const app = (i: number) => `  a${i}: { repo: o/r, branches: [main], hosts: [h0], deploy: { image: "r/a:1", container: a } }`;
    const apps = problems(parseAppsYaml(`version: 1\nhosts:\n${hosts(1)}\napps:\n${Array.from({ length: 501 }, (_, i) => app(i)).join("\n")}\n`));
    expect(apps[0]).toMatchObject({ path: "apps", line: 5 });

    const wide = `version: 1\nhosts:\n${hosts(1_001)}\napps:\n  a: { repo: o/r, branches: [main], hosts: [${Array.from({ length: 1_001 }, (_, i) => `h${i}`).join(", ")}], deploy: { image: "r/a:1", container: a } }\n`;
    expect(problems(parseAppsYaml(wide))[0]).toMatchObject({ path: "apps.a.hosts", line: 1_005 });
  }, 60_000);

  it("refuses a file over 1 MiB before parsing it", () => {
    const [problem] = problems(parseAppsYaml(`version: 1\n# ${"x".repeat(1024 * 1024)}\n`));
    expect(problem).toMatchObject({ line: 1, column: 1 });
    expect(problem!.message).toMatch(/at most 1048576/);
  });
});

describe("repo and ref mapping", () => {
  const result = parseAppsYaml(fixture);
  if (!result.ok) throw new Error("fixture must parse");
  const { config } = result;
  const hello = config.apps.hello!;

  it("maps a repo to its apps, ignoring case", () => {
    expect(appsForRepo(config, "codertocat/hello-world").map(([name]) => name)).toEqual(["hello"]);
    expect(appsForRepo(config, "someone/else")).toEqual([]);
  });

  it("tracks branches and tags by their patterns", () => {
    expect(tracksRef(hello, "refs/heads/master")).toBe(true);
    expect(tracksRef(hello, "refs/heads/release/2.1")).toBe(true);
    expect(tracksRef(hello, "refs/heads/feature")).toBe(false);
    expect(tracksRef(hello, "refs/heads/masterful")).toBe(false);
    expect(tracksRef(hello, "refs/tags/simple-tag")).toBe(true);
    expect(tracksRef(hello, "refs/tags/master")).toBe(false);
    expect(tracksRef(hello, "refs/pull/1/head")).toBe(false);
  });

  it("expands a short ref to a branch, or a tag when only a tag pattern matches", () => {
    expect(normaliseRef(hello, "master")).toBe("refs/heads/master");
    expect(normaliseRef(hello, "simple-1")).toBe("refs/tags/simple-1");
    expect(normaliseRef(hello, "refs/tags/x")).toBe("refs/tags/x");
  });

  it("renders every template variable", () => {
    const sha = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
    const deploy = renderDeploy(hello.deploy, { sha, ref: "refs/heads/release/2", repo: hello.repo, app: "hello" });
    expect(deploy.image).toBe("registry.test/hello:6113728");
    expect(deploy.env).toEqual({ APP_ENV: "production", REF: "release/2" });
  });
});
