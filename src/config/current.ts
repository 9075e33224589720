import { drizzle } from "drizzle-orm/d1";
import bundledYaml from "../../apps.yaml";
import { getConfigVersion, latestConfigVersionId } from "../db/queries";
import { ApiError } from "../errors";
import { parseAppsYaml, type AppsConfig } from "./apps";

export interface RunningConfig {
  config: AppsConfig;
  yaml: string;
  /** The D1 version id, or 0 for the bundled file. */
  version: number;
  source: "bundled" | "stored";
}

// Parsed configs by version, per isolate: parsing is cheap but not free, versions never change.
const parsed = new Map<number, RunningConfig>();

/** The running configuration: the newest version stored in D1, or the bundled apps.yaml when there is none. */
export async function loadRunningConfig(db: D1Database): Promise<RunningConfig> {
  // The id first: a file of many hosts is read (and parsed) once per isolate and version, not per push.
  const orm = drizzle(db);
  const version = await latestConfigVersionId(orm);
  const cached = parsed.get(version);
  if (cached) return cached;
  const stored = version ? await getConfigVersion(orm, version) : null;
  if (version && !stored) throw new Error(`config version ${version} vanished while being read`);
  const yaml = stored?.yaml ?? bundledYaml;
  const result = parseAppsYaml(yaml);
  if (!result.ok) {
    // Stored versions were validated on the way in, but under the rules of their day: one stored before a
    // limit existed (40,000 hosts, say) is refused now rather than run. PUT /v1/config replaces it.
    const first = result.problems[0]!;
    throw new ApiError(
      500,
      "config_invalid",
      `the ${stored ? `stored apps.yaml (version ${version})` : "bundled apps.yaml"} is invalid under today's rules ` +
        `(line ${first.line}: ${first.message}); PUT /v1/config a valid file`,
    );
  }
  const running: RunningConfig = { config: result.config, yaml, version, source: stored ? "stored" : "bundled" };
  parsed.set(version, running);
  return running;
}
