// @ts-check
/**
 * A live stream over server-sent events: a job's log and status (`job_id`), or a rollout's changes
 * (`rollout_id`). EventSource cannot send headers, so each connection first asks for a stream
 * ticket (POST /v1/logs/tickets: good for this one job or rollout, for a minute) and puts that in
 * the URL, never the API token: URLs land in Cloudflare's request logs, Logpush and proxies. After a dropped connection EventSource reconnects by itself and sends
 * Last-Event-ID, so the controller resumes after the last line seen; when the browser gives up (an
 * HTTP error while the controller restarts) the stream is opened again with `last_event_id`. Every
 * `log` event's id is its line's position, increasing along a job's log: a line at or below the
 * last id seen is a repeat and is dropped. A rollout's events carry the whole rollout each time, so
 * a repeat does no harm.
 */

import { request } from "./api.js";

/**
 * @typedef {{ job_id: string, attempt: number, seq: number, ts: string, stream: string, text: string }} LogLine
 * @typedef {"connecting" | "live" | "reconnecting" | "ended"} StreamState
 * @typedef {{
 *   subject: { job_id: string } | { rollout_id: string },
 *   token: string,
 *   onLine?: (line: LogLine, id: number) => void,
 *   onStatus?: (job: any) => void,
 *   onRollout?: (rollout: any) => void,
 *   onEnd?: () => void,
 *   onState?: (state: StreamState) => void,
 *   check?: () => Promise<boolean>,
 * }} LiveStreamOptions
 */

/** What a stream's state reads as on a page. @type {Record<StreamState, string>} */
const STREAM_LABELS = { connecting: "Connecting…", live: "Live", reconnecting: "Connection lost; reconnecting…", ended: "Finished" };

/**
 * Shows a stream's state in `el` (its data-state styles it).
 * @param {HTMLElement} el
 * @returns {(state: StreamState) => void}
 */
export const showStreamState = (el) => (state) => {
  el.textContent = STREAM_LABELS[state];
  el.dataset.state = state;
};

export class LiveStream {
  /** @param {LiveStreamOptions} options */
  constructor(options) {
    this.options = options;
    this.lastId = 0;
    this.duplicates = 0;
    this.reopenDelay = 1000;
    /** @type {EventSource | null} */
    this.source = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.stopped = false;
  }

  start() {
    this.open();
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
  }

  /** @param {StreamState} state */
  state(state) {
    this.options.onState?.(state);
  }

  open() {
    const { subject, token } = this.options;
    this.state(this.lastId > 0 ? "reconnecting" : "connecting");
    request("/v1/logs/tickets", { method: "POST", body: subject, token }).then(
      (/** @type {{ ticket: string }} */ { ticket }) => {
        if (!this.stopped) this.connect(ticket);
      },
      () => this.reopenLater(),
    );
  }

  /** Opens the EventSource with a fresh ticket. @param {string} ticket */
  connect(ticket) {
    const params = new URLSearchParams({ ...this.options.subject, ticket });
    if (this.lastId > 0) params.set("last_event_id", String(this.lastId));
    const source = new EventSource(`/v1/logs/stream?${params}`);
    this.source = source;

    source.addEventListener("open", () => {
      this.reopenDelay = 1000;
      this.state("live");
    });
    source.addEventListener("log", (event) => {
      const id = Number(event.lastEventId);
      if (Number.isFinite(id) && id <= this.lastId) {
        this.duplicates++;
        return;
      }
      if (Number.isFinite(id)) this.lastId = id;
      this.options.onLine?.(JSON.parse(event.data), id);
    });
    source.addEventListener("status", (event) => this.options.onStatus?.(JSON.parse(event.data)));
    source.addEventListener("rollout", (event) => this.options.onRollout?.(JSON.parse(event.data)));
    source.addEventListener("end", () => {
      // The controller closes a finished job's or rollout's stream; EventSource would otherwise reconnect.
      this.stop();
      this.state("ended");
      this.options.onEnd?.();
    });
    source.addEventListener("error", () => {
      if (this.stopped) return;
      if (source.readyState === EventSource.CONNECTING) {
        this.state("reconnecting"); // the browser retries on its own, with Last-Event-ID
        return;
      }
      // CLOSED: the browser gave up (or its ticket expired). Ask the API whether to go on (a refused token stops here).
      source.close();
      this.reopenLater();
    });
  }

  /** Opens the stream again after a growing pause, with a new ticket, unless `check` says to stop. */
  reopenLater() {
    if (this.stopped) return;
    this.state("reconnecting");
    this.timer = setTimeout(async () => {
      if (this.stopped) return;
      const goOn = this.options.check ? await this.options.check().catch(() => true) : true;
      if (goOn && !this.stopped) this.open();
    }, this.reopenDelay);
    this.reopenDelay = Math.min(this.reopenDelay * 2, 15_000);
  }
}
