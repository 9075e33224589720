// @ts-check
import { h } from "./dom.js";

/**
 * Renders a log that may grow by thousands of lines a second without stalling the page: lines are
 * queued and written once per animation frame as one fragment, and only the newest `maxRendered`
 * lines stay in the DOM (all of them stay in memory, for the download). The view follows the end
 * while it is scrolled to the bottom; scrolled up, it stays put and offers a jump back.
 */

// Colour and cursor escapes from docker and build tools: noise in a browser.
const ANSI = /\x1b\[[0-9;?]*[ -\/]*[@-~]/g;

export class LogView {
  /**
   * @param {{ label: string, fileName: string, maxRendered?: number }} options
   */
  constructor({ label, fileName, maxRendered = 5000 }) {
    this.maxRendered = maxRendered;
    this.fileName = fileName;
    /** @type {Array<{ n: number, text: string, stream: string, attempt: number }>} */
    this.lines = [];
    /** @type {Array<{ n: number, text: string, stream: string, attempt: number }>} */
    this.pending = [];
    this.rendered = 0;
    this.frame = 0;
    this.pinned = true;
    this.unseen = 0;
    /** @type {number | null} */
    this.lastAttempt = null;

    this.count = h("span", { class: "log-count" }, "0 lines");
    this.trimmed = h("p", { class: "log-trimmed muted", hidden: true });
    this.body = h("div", { class: "log", role: "log", "aria-live": "off", "aria-label": label, tabindex: "0", "data-testid": "log" });
    this.empty = h("p", { class: "log-empty muted" }, "No output yet.");
    this.jump = h("button", { type: "button", class: "log-jump", hidden: true, onclick: () => this.scrollToEnd() }, "Jump to latest");
    const download = h("button", { type: "button", class: "quiet", onclick: () => this.download() }, "Download");
    this.element = h(
      "section",
      { class: "log-panel", "aria-label": label },
      h("div", { class: "log-toolbar" }, this.count, download),
      this.trimmed,
      h("div", { class: "log-frame" }, this.empty, this.body, this.jump),
    );
    this.body.addEventListener("scroll", () => {
      const el = this.body;
      this.pinned = el.scrollTop + el.clientHeight >= el.scrollHeight - 24;
      if (this.pinned) this.showUnseen(0);
    }, { passive: true });
  }

  /**
   * Queues one line; it reaches the page on the next animation frame.
   * @param {{ text: string, stream: string, attempt: number }} line
   */
  push(line) {
    const entry = { n: this.lines.length + 1, text: line.text.replace(ANSI, ""), stream: line.stream, attempt: line.attempt };
    this.lines.push(entry);
    this.pending.push(entry);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = 0;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.empty.hidden = true;

    // A batch larger than the window only needs its tail drawn.
    const from = Math.max(0, batch.length - this.maxRendered);
    const fragment = document.createDocumentFragment();
    for (let i = from; i < batch.length; i++) {
      const line = /** @type {typeof batch[number]} */ (batch[i]);
      if (this.lastAttempt !== null && line.attempt !== this.lastAttempt) {
        fragment.append(h("div", { class: "log-attempt" }, `attempt ${line.attempt}`));
        this.rendered++;
      }
      this.lastAttempt = line.attempt;
      const row = document.createElement("div");
      row.className = line.stream === "stderr" ? "l err" : line.stream === "system" ? "l sys" : "l";
      row.dataset.n = String(line.n);
      row.textContent = line.text;
      fragment.append(row);
      this.rendered++;
    }
    this.body.append(fragment);

    const excess = this.rendered - this.maxRendered;
    if (excess > 0) {
      const range = document.createRange();
      range.setStartBefore(/** @type {Node} */ (this.body.firstChild));
      range.setEndAfter(/** @type {Node} */ (this.body.children[excess - 1]));
      range.deleteContents();
      this.rendered -= excess;
    }
    const total = this.lines.length;
    this.count.textContent = `${total.toLocaleString("en")} line${total === 1 ? "" : "s"}`;
    this.body.style.setProperty("--digits", String(Math.max(3, String(total).length)));
    const first = /** @type {HTMLElement | null} */ (this.body.querySelector(".l"));
    const shown = first ? total - Number(first.dataset.n) + 1 : 0;
    this.trimmed.hidden = shown >= total;
    if (shown < total) {
      this.trimmed.textContent = `Showing the newest ${shown.toLocaleString("en")} of ${total.toLocaleString("en")} lines; Download has them all.`;
    }
    if (this.pinned) this.body.scrollTop = this.body.scrollHeight;
    else this.showUnseen(this.unseen + batch.length);
  }

  /** @param {number} n */
  showUnseen(n) {
    this.unseen = n;
    this.jump.hidden = n === 0;
    this.jump.textContent = `↓ ${n.toLocaleString("en")} new line${n === 1 ? "" : "s"}`;
  }

  scrollToEnd() {
    this.pinned = true;
    this.body.scrollTop = this.body.scrollHeight;
    this.showUnseen(0);
    this.body.focus();
  }

  download() {
    const text = this.lines.map((l) => l.text).join("\n") + "\n";
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    const a = h("a", { href: url, download: this.fileName });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  /** Stops a pending frame (the page is being left). */
  dispose() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
  }
}
