/**
 * Control characters in text that came from elsewhere (a job's log, its error): on a terminal
 * they would be obeyed, so ESC could move the cursor, retitle the window or print an OSC 8 link.
 * Tab and newline stay; every other C0 character, DEL and the C1 range are shown as \xNN.
 */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** `text` with its control characters made visible, as `\x1b`. */
export function visible(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

export interface TerminalOptions {
  /** Whether the output is a terminal (`process.stdout.isTTY`). */
  tty: boolean | undefined;
  /** `--raw`: the user asked for the bytes as they are. */
  raw?: boolean;
}

/** Text as it should reach an output: neutralised on a terminal unless raw; as it is into a pipe or file. */
export function forOutput(text: string, { tty, raw = false }: TerminalOptions): string {
  return tty && !raw ? visible(text) : text;
}
