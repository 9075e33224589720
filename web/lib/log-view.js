// @ts-check
import { h } from "./dom.js";

/**
 * Renders a log that may grow by thousands of lines a second without stalling the page: lines are
 * queued and written once per animation frame as one fragment, in chunks the browser may skip
 * laying out while they are off screen, and only about the newest `maxRendered` lines stay in the
 * DOM (all of them stay in memory, for the download). The view follows the end
 * while it is scrolled to the bottom; scrolled up, it stays put and offers a jump back.
 */

/**
 * Rows are grouped in chunks of this many; chunks off screen skip layout and paint
 * (content-visibility: auto), so a frame's cost follows the lines it adds, not the lines shown.
 */
const CHUNK = 200;

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
    this.settle = 0;
    this.pinned = true;
    this.unseen = 0;
    /** @type {number | null} */
    this.lastAttempt = null;
    /** Rows in each chunk <div> of the DOM, oldest first. */
    /** @type {number[]} */
    this.chunkSizes = [];
    /** @type {DocumentFragment | null} */
    this.fragment = null;
    /** @type {HTMLElement | null} */
    this.fragmentChunk = null;

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
    // A resize (a phone turned, a window made smaller) keeps a following view at the end.
    new ResizeObserver(() => {
      if (this.pinned && this.lines.length > 0) this.stickToEnd();
    }).observe(this.body);
    /** Where this view last scrolled itself to; only a scroll above it is the reader's own. */
    this.autoTop = 0;
    this.body.addEventListener("scroll", () => {
      const el = this.body;
      if (el.scrollTop + el.clientHeight >= el.scrollHeight - 24) {
        this.pinned = true;
        this.showUnseen(0);
      } else if (el.scrollTop < this.autoTop - 4) {
        // Growth below (new rows, chunks laid out at their real height) leaves scrollTop alone, so
        // this is the reader scrolling up: stop following.
        this.pinned = false;
      }
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

    // A batch larger than the window only needs its tail drawn, and replaces everything drawn so
    // far (rows kept from before would sit across a gap from the new ones).
    if (batch.length >= this.maxRendered) {
      this.body.replaceChildren();
      this.chunkSizes = [];
      this.rendered = 0;
    }
    for (let i = Math.max(0, batch.length - this.maxRendered); i < batch.length; i++) {
      const line = /** @type {typeof batch[number]} */ (batch[i]);
      if (this.lastAttempt !== null && line.attempt !== this.lastAttempt) this.row(h("div", { class: "log-attempt" }, `attempt ${line.attempt}`));
      this.lastAttempt = line.attempt;
      const row = document.createElement("div");
      row.className = line.stream === "stderr" ? "l err" : line.stream === "system" ? "l sys" : "l";
      row.dataset.n = String(line.n);
      row.textContent = line.text;
      this.row(row);
    }
    if (this.fragment) {
      (this.fragmentChunk ?? this.body).append(this.fragment);
      this.fragment = null;
      this.fragmentChunk = null;
    }
    // Whole chunks leave from the top, so the DOM holds between maxRendered and maxRendered + CHUNK rows.
    while (this.rendered - (this.chunkSizes[0] ?? 0) >= this.maxRendered) {
      this.body.firstElementChild?.remove();
      this.rendered -= /** @type {number} */ (this.chunkSizes.shift());
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
    if (this.pinned) this.stickToEnd();
    else this.showUnseen(this.unseen + batch.length);
  }

  /** Scrolls to the end, and again a frame later: chunks coming into view may turn out taller than estimated. */
  stickToEnd() {
    const end = () => {
      this.body.scrollTop = this.body.scrollHeight;
      this.autoTop = this.body.scrollTop;
    };
    end();
    if (!this.settle) {
      this.settle = requestAnimationFrame(() => {
        this.settle = 0;
        if (this.pinned) end();
      });
    }
  }

  /**
   * Adds a row to the newest chunk, starting a new chunk when it is full. Rows of one frame are
   * gathered in a fragment and attached once.
   * @param {HTMLElement} row
   */
  row(row) {
    let size = this.chunkSizes.at(-1);
    if (size === undefined || size >= CHUNK) {
      if (this.fragment) (this.fragmentChunk ?? this.body).append(this.fragment);
      // A full chunk no longer changes: from now on it may skip layout while off screen. The
      // growing one never does, or its new rows would go unmeasured below the fold.
      this.body.lastElementChild?.classList.add("sealed");
      const chunk = h("div", { class: "chunk" });
      this.body.append(chunk);
      this.chunkSizes.push(0);
      this.fragment = document.createDocumentFragment();
      this.fragmentChunk = chunk;
      size = 0;
    }
    if (!this.fragment) {
      this.fragment = document.createDocumentFragment();
      this.fragmentChunk = /** @type {HTMLElement} */ (this.body.lastElementChild);
    }
    this.fragment.append(row);
    this.chunkSizes[this.chunkSizes.length - 1] = size + 1;
    this.rendered++;
  }

  /** @param {number} n */
  showUnseen(n) {
    this.unseen = n;
    this.jump.hidden = n === 0;
    this.jump.textContent = `↓ ${n.toLocaleString("en")} new line${n === 1 ? "" : "s"}`;
  }

  scrollToEnd() {
    this.pinned = true;
    this.stickToEnd();
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
    if (this.settle) cancelAnimationFrame(this.settle);
    this.frame = 0;
    this.settle = 0;
  }
}
