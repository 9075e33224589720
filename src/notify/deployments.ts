export type DeploymentRow = {
  repo: string;
  deployment_id: number | null;
  deployment_url: string | null;
  last_state: string | null;
  error: string | null;
  /** 1: a Deployment someone else created (a `deployment` event's), which a rollout reports to. */
  external: number;
};

/**
 * The app's GitHub Deployments, per subject (a job, or a rollout that serves a `deployment`
 * event's Deployment or posts a commit status): the Deployment once GitHub answered, the last state
 * GitHub accepted, and which subject's Deployment is live on each host. Synchronous SQL only: the
 * Notifications room calls it inside the change's transaction.
 */
export class DeploymentLedger {
  constructor(private readonly sql: SqlStorage) {}

  get(subject: string): DeploymentRow | undefined {
    return this.sql
      .exec<DeploymentRow>("SELECT repo, deployment_id, deployment_url, last_state, error, external FROM github_deployments WHERE subject = ?", subject)
      .toArray()[0];
  }

  /** Starts the record of a subject that will tell GitHub something (no-op when it exists). */
  open(subject: string, repo: string): void {
    this.sql.exec("INSERT INTO github_deployments (subject, repo) VALUES (?, ?) ON CONFLICT (subject) DO NOTHING", subject, repo);
  }

  /**
   * A rollout that serves a Deployment someone else created (a `deployment` event): its statuses go
   * to that Deployment, and its jobs make none of their own. Call before the rollout's first change.
   */
  adopt(rolloutId: string, repo: string, deploymentId: number, deploymentUrl: string | null): void {
    this.sql.exec(
      `INSERT INTO github_deployments (subject, repo, deployment_id, deployment_url, external) VALUES (?, ?, ?, ?, 1)
       ON CONFLICT (subject) DO UPDATE SET deployment_id = excluded.deployment_id, deployment_url = excluded.deployment_url, external = 1`,
      rolloutId, repo, deploymentId, deploymentUrl,
    );
  }

  created(subject: string, deploymentId: number, url: string): void {
    this.sql.exec("UPDATE github_deployments SET deployment_id = ?, deployment_url = ?, error = NULL WHERE subject = ?", deploymentId, url, subject);
  }

  accepted(subject: string, state: string): void {
    this.sql.exec("UPDATE github_deployments SET last_state = ?, error = NULL WHERE subject = ?", state, subject);
  }

  failed(subject: string, error: string): void {
    this.sql.exec("UPDATE github_deployments SET error = ? WHERE subject = ?", error, subject);
  }

  /** True when the rollout reports to a Deployment someone else created (its jobs make none). */
  isExternal(rolloutId: string | null): boolean {
    return rolloutId !== null && this.get(rolloutId)?.external === 1;
  }

  /**
   * `subject`'s Deployment went live on `hosts` at `since`. Returns the subjects this replaced that
   * are now live nowhere: their Deployments get `inactive`. Each is returned once, ever: a subject
   * leaves the map here and only its own success puts it back, which GitHub hears of once. A
   * success delivered after a newer one on the same host is itself replaced at once.
   */
  wentLive(subject: string, hosts: string[], since: string): string[] {
    const candidates = new Set<string>();
    for (const host of hosts) {
      const current = this.sql.exec<{ subject: string; since: string }>("SELECT subject, since FROM github_live WHERE host = ?", host).toArray()[0];
      if (current?.subject === subject) continue;
      if (current && current.since > since) {
        candidates.add(subject);
        continue;
      }
      if (current) candidates.add(current.subject);
      this.sql.exec(
        "INSERT INTO github_live (host, subject, since) VALUES (?, ?, ?) ON CONFLICT (host) DO UPDATE SET subject = excluded.subject, since = excluded.since",
        host, subject, since,
      );
    }
    return [...candidates].filter((s) => !this.isLive(s) && this.get(s) !== undefined);
  }

  private isLive(subject: string): boolean {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM github_live WHERE subject = ?", subject).one().n > 0;
  }
}
