import {
  dockerFindParked,
  dockerRemove,
  dockerRename,
  dockerRun,
  dockerStart,
  dockerStop,
  LABEL_APP,
  LABEL_JOB,
  LABEL_SHA,
  parkedPrefix,
  safeJobId,
  STOP_GRACE_S,
} from "./commands.ts";
import { runCutover } from "./cutover.ts";
import type { DeployOptions, DeployResult, DeployStep } from "./deploy-contract.ts";
import { bounded, deploySteps, isCancel } from "./steps.ts";

/**
 * One deploy with the docker CLI on the target, the .NET agent's steps
 * (docs/deploy-steps.md). An app with a proxy block gets a cutover
 * (cutover.ts); one with ports, stop-then-start:
 *
 * 1. pull — always (a tag may move); if the pull fails but the image is on the
 *    host, that copy is used with a warning. Nothing has changed yet.
 * 2. stop-previous — a deploy of this container that was interrupted (the
 *    relay died mid-way) is undone first: the container it started, if any,
 *    is removed and the release it parked is renamed back. Then `<container>`
 *    is renamed `<container>-previous-<job>` and stopped.
 * 3. start — `docker run` with name, ports, env and the deploybot labels.
 * 4. health — the URL polled once a second with curl or wget on the target
 *    until a 2xx, the timeout, or the container exits.
 * 5. remove-previous — the parked container is removed. From here on the
 *    deploy has succeeded: a cancel is ignored and a failure is a warning.
 *
 * Any failure or cancel in 2–4 rolls back, judged from docker's state rather
 * than from what this function believes it did (a killed command may still
 * have been carried out): the container holding the name is removed only if
 * it carries this job's label, then the parked one is renamed back and
 * started if it ran before. Rollback ignores the cancel and is bounded.
 *
 * Never throws for a failed deploy: the result says what happened.
 */
export async function runDeploy({
  run,
  request,
  log,
  signal,
  pollIntervalMs = 250,
  pullTimeoutMs = 15 * 60_000,
  rollbackTimeoutMs = 90_000,
  settleMs = 2000,
  stopGraceS = STOP_GRACE_S,
}: DeployOptions): Promise<DeployResult> {
  const { jobId, deploy } = request;
  if (deploy.proxy) {
    return runCutover({ run, request, proxy: deploy.proxy, log, signal, pollIntervalMs, pullTimeoutMs, rollbackTimeoutMs, settleMs, stopGraceS });
  }
  const name = deploy.container;
  const parked = `${parkedPrefix(name)}${safeJobId(jobId)}`;
  let step: DeployStep = "pull";
  let touched = false;
  let previousRan = false;

  const { checkpoint, must, find, pull, waitHealthy, showOutput } = deploySteps({ run, log, signal, pollIntervalMs, pullTimeoutMs });

  try {
    // 1. pull
    await pull(deploy.image);

    // 2. stop-previous
    step = "stop-previous";
    checkpoint();
    const restored = await undoInterrupted();
    const current = await find(name);
    if (current) {
      // A restored release was the live one when its deploy began: treat it as running.
      previousRan = restored || current.state === "running" || current.state === "restarting";
      touched = true;
      log("system", `parking ${name} as ${parked}`);
      await must(dockerRename(name, parked), `renaming ${name} to ${parked}`);
      if (previousRan) await must(dockerStop(parked, stopGraceS), `stopping ${parked}`, { timeoutMs: (stopGraceS + 60) * 1000 });
    } else {
      log("system", `no container ${name} yet: first deploy`);
    }

    // 3. start
    step = "start";
    checkpoint();
    touched = true;
    log("system", `starting ${name} from ${deploy.image}`);
    const runSpec = dockerRun({
      name,
      image: deploy.image,
      ports: deploy.ports,
      env: deploy.env,
      labels: { [LABEL_APP]: request.app, [LABEL_SHA]: request.sha, [LABEL_JOB]: jobId },
    });
    const started = await must(runSpec.argv, `starting ${name}`, { timeoutMs: 5 * 60_000, stdin: runSpec.stdin });
    log("stdout", `container ${started.stdout.trim().slice(0, 12)} started`);

    // 4. health
    step = "health";
    checkpoint();
    try {
      await waitHealthy(name, deploy.health, settleMs);
    } catch (err) {
      if (!isCancel(err)) await showOutput(name);
      throw err;
    }
  } catch (err) {
    const cancelled = isCancel(err);
    const reason = cancelled ? "cancelled" : (err as Error).message;
    log(cancelled ? "system" : "stderr", cancelled ? `cancelled during ${step}` : `${step} failed: ${reason}`);
    if (!touched) {
      return { status: cancelled ? "cancelled" : "failed", step, error: cancelled ? null : reason, rolled_back: false };
    }
    const rollbackError = await rollback();
    if (rollbackError) {
      return { status: cancelled ? "cancelled" : "failed", step, error: cancelled ? null : reason, rolled_back: false, rollback_error: rollbackError };
    }
    return { status: cancelled ? "cancelled" : "failed", step, error: cancelled ? null : reason, rolled_back: true };
  }

  // 5. remove-previous: the deploy has succeeded; nothing from here changes that.
  step = "remove-previous";
  try {
    if (await find(parked)) {
      log("system", `removing ${parked}`);
      await must(dockerRemove(parked), `removing ${parked}`);
    }
  } catch (err) {
    log("stderr", `warning: ${(err as Error).message}`);
  }
  log("system", `deployed ${deploy.image} as ${name}`);
  return { status: "succeeded", step: "remove-previous", error: null, rolled_back: false };

  /**
   * Undoes a deploy of this container that never finished: its relay died
   * between parking the live release and cleaning up, so the controller never
   * heard it succeed. The container that deploy started (carrying its job
   * label) is removed and the parked release takes its name back, as the .NET
   * agent does at its next start. True when a release was restored.
   * Anything else holding the name is left alone, with an error.
   */
  async function undoInterrupted(): Promise<boolean> {
    const rows = (await must(dockerFindParked(name, request.app), `looking for containers parked by an earlier deploy of ${name}`)).stdout
      .split("\n")
      .map((row) => row.trim().split(/\s+/)[0] ?? "")
      .filter(Boolean);
    if (rows.length === 0) return false;
    if (rows.length > 1) throw new Error(`several earlier deploys of ${name} were interrupted (${rows.join(", ")}); keep one, rename it ${name} and remove the others by hand`);
    const left = rows[0]!;
    const interruptedJob = left.slice(parkedPrefix(name).length);
    log("stderr", `the deploy of job ${interruptedJob} was interrupted and left ${left}: undoing it first`);
    if (await find(name)) {
      if (!(await find(name, { key: LABEL_JOB, value: interruptedJob }))) {
        throw new Error(`${left} was parked by job ${interruptedJob}, but ${name} is held by a container that job did not start; restore or remove one of them by hand`);
      }
      log("system", `removing the ${name} that job ${interruptedJob} started`);
      await must(dockerRemove(name), `removing the ${name} that job ${interruptedJob} started`);
    }
    touched = true; // from here a failure rolls back: the parked release gets its name again
    log("system", `restoring ${left} as ${name}`);
    await must(dockerRename(left, name), `renaming ${left} back to ${name}`);
    return true;
  }

  /** Puts the host back as it was; returns null or what went wrong. */
  async function rollback(): Promise<string | null> {
    log("system", "rolling back");
    const work = (async () => {
      const ours = await find(name, { key: LABEL_JOB, value: jobId });
      if (ours) {
        log("system", `removing the new ${name}`);
        await must(dockerRemove(name), `removing the new ${name}`);
      }
      if (await find(parked)) {
        const holder = await find(name);
        if (holder) throw new Error(`${name} is held by a container this job did not start; ${parked} left in place`);
        log("system", `restoring ${parked} as ${name}`);
        await must(dockerRename(parked, name), `renaming ${parked} back to ${name}`);
        if (previousRan) await must(dockerStart(name), `starting ${name} again`);
      }
      log("system", "rolled back");
      return null;
    })();
    return bounded(work, rollbackTimeoutMs, `rollback did not finish within ${rollbackTimeoutMs / 1000} s`);
  }
}
