import type { Page } from "playwright-core";

/**
 * A small accessibility audit of what the page shows now: landmarks, one h1, a label for every
 * form control, a name for every button and link, and WCAG AA contrast for every visible text
 * (4.5:1; 3:1 for large text). Returns the problems found, as sentences.
 */
export async function audit(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const visible = (el: Element) => {
      const box = (el as HTMLElement).getBoundingClientRect();
      const style = getComputedStyle(el);
      return box.width > 0 && box.height > 0 && style.visibility !== "hidden" && style.display !== "none";
    };
    const describe = (el: Element) => `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}${el.className && typeof el.className === "string" ? `.${el.className.split(" ").join(".")}` : ""}> "${(el.textContent ?? "").trim().slice(0, 30)}"`;

    if (document.querySelectorAll("main").length !== 1) problems.push("there must be exactly one <main>");
    if (!document.querySelector("body > header")) problems.push("no banner <header>");
    const h1s = Array.from(document.querySelectorAll("main h1")).filter(visible);
    if (h1s.length !== 1) problems.push(`expected one visible h1 in main, found ${h1s.length}`);
    if (!document.documentElement.lang) problems.push("<html> has no lang");

    for (const control of Array.from(document.querySelectorAll<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>("input, select, textarea"))) {
      if (!visible(control)) continue;
      if (control.labels?.length === 0 && !control.getAttribute("aria-label") && !control.getAttribute("aria-labelledby")) problems.push(`${describe(control)} has no label`);
    }
    for (const el of Array.from(document.querySelectorAll("button, a[href]"))) {
      if (!visible(el)) continue;
      if (!(el.textContent ?? "").trim() && !el.getAttribute("aria-label")) problems.push(`${describe(el)} has no accessible name`);
    }

    const rgba = (text: string): [number, number, number, number] => {
      const m = /rgba?\(([^)]+)\)/.exec(text);
      if (!m) return [0, 0, 0, 0];
      const parts = m[1]!.split(/[ ,/]+/).filter(Boolean).map(Number);
      return [parts[0]!, parts[1]!, parts[2]!, parts[3] ?? 1];
    };
    const luminance = ([r, g, b]: number[]) => {
      const c = [r!, g!, b!].map((v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * c[0]! + 0.7152 * c[1]! + 0.0722 * c[2]!;
    };
    // The colour behind an element: the first opaque-enough background up the tree, blended.
    const background = (el: Element | null): number[] => {
      const layers: Array<[number, number, number, number]> = [];
      for (let node = el; node; node = node.parentElement) {
        const bg = rgba(getComputedStyle(node).backgroundColor);
        if (bg[3] > 0) layers.push(bg);
        if (bg[3] >= 1) break;
      }
      let color = [255, 255, 255];
      for (const [r, g, b, a] of layers.reverse()) color = [r * a + color[0]! * (1 - a), g * a + color[1]! * (1 - a), b * a + color[2]! * (1 - a)];
      return color;
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set<Element>();
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!el || seen.has(el) || !(node.textContent ?? "").trim() || !visible(el)) continue;
      if (el.closest("dialog:not([open]), [hidden], noscript")) continue;
      seen.add(el);
      const style = getComputedStyle(el);
      const fg = rgba(style.color);
      const bg = background(el);
      const blended = [fg[0] * fg[3] + bg[0]! * (1 - fg[3]), fg[1] * fg[3] + bg[1]! * (1 - fg[3]), fg[2] * fg[3] + bg[2]! * (1 - fg[3])];
      const [hi, lo] = [luminance(blended), luminance(bg)].sort((a, b) => b - a);
      const ratio = (hi! + 0.05) / (lo! + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      const opacity = Number(style.opacity);
      if (ratio < (large ? 3 : 4.5) && opacity > 0.9) problems.push(`${describe(el)} contrast ${ratio.toFixed(2)}:1`);
    }
    return problems;
  });
}
