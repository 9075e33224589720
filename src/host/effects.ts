import type { StreamEvent } from "./stream";

/**
 * What a unit of work did, beyond its SQL: recorded while the transaction runs, performed once by
 * the object's commit() after it committed. A method never sends, wakes or arms by itself, so no
 * rule about "when to wake" lives in a caller: a transition that frees the host or adds work says so here.
 */
export class Effects {
  /** Stream events in the order they happened, each with its job. */
  readonly events: Array<{ jobId: string; event: StreamEvent }> = [];
  /** Jobs whose subscribers are closed after their events (the job ended). */
  readonly ended = new Set<string>();
  /** Ssh-mode jobs whose relay is told to stop. */
  readonly relayCancels: string[] = [];
  /** Work may be waiting for someone: a job was queued, one ended, a cancel was requested. */
  wakeNeeded = false;
  /** ...and perhaps for the relay: anything but a new agent-mode job at the back of the queue. */
  relayWake = false;

  broadcast(jobId: string, events: StreamEvent[], end = false): void {
    for (const event of events) this.events.push({ jobId, event });
    if (end) this.ended.add(jobId);
  }

  /** `relay: false`: the change cannot have given the relay work (it queued an agent-mode job behind the rest). */
  wake(relay = true): void {
    this.wakeNeeded = true;
    if (relay) this.relayWake = true;
  }

  cancelOnRelay(jobId: string): void {
    this.relayCancels.push(jobId);
  }
}
