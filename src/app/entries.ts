import type { AppConfig } from "../config/apps";
import { loadRunningConfig } from "../config/current";
import { specOf, type RolloutTable } from "./rollout-table";

/** Parsed specs kept in memory (a handful of rollouts are ever active at once). */
const APP_CONFIGS_KEPT = 16;

/**
 * The app's apps.yaml entry that a notification is told with: as a rollout was started with it
 * (its jobs, the rollout itself), or as apps.yaml says now (a job outside any rollout).
 */
export class AppEntries {
  /** Parsed apps.yaml entries of recent rollouts (see ofRollout). */
  private readonly parsed = new Map<string, AppConfig>();

  constructor(
    private readonly table: RolloutTable,
    private readonly db: D1Database,
  ) {}

  /** apps.yaml's entry as the rollout was started with it (a job of a rollout, the rollout itself). */
  ofRollout(rolloutId: string): AppConfig | undefined {
    // A rollout's spec never changes, and a wave's deliveries all ask for the same one: read and parse it once.
    const known = this.parsed.get(rolloutId);
    if (known) return known;
    const row = this.table.get(rolloutId);
    if (!row) return undefined;
    if (this.parsed.size >= APP_CONFIGS_KEPT) this.parsed.clear();
    const app = specOf(row).app;
    this.parsed.set(row.id, app);
    return app;
  }

  /**
   * The app's entry in the running apps.yaml, for a job outside any rollout (`ctl deploy --host`,
   * `POST /v1/jobs`). When D1 cannot be read, or the app left apps.yaml while its job ran, the newest
   * rollout's entry stands in: a job's statuses are worth telling even then.
   */
  async current(appName: string): Promise<AppConfig | undefined> {
    const newest = () => {
      const row = this.table.recent(1)[0];
      return row ? specOf(row).app : undefined;
    };
    try {
      return (await loadRunningConfig(this.db)).config.apps[appName] ?? newest();
    } catch {
      return newest();
    }
  }
}
