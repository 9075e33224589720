import pc from "picocolors";

/** Colour only on a terminal, never with NO_COLOR (picocolors checks both). */
export const color = pc.createColors(Boolean(process.stdout.isTTY) && !("NO_COLOR" in process.env));

const STATUS_COLOURS: Record<string, (s: string) => string> = {
  succeeded: color.green,
  failed: color.red,
  cancelled: color.yellow,
  running: color.cyan,
  queued: color.dim,
};

export function status(value: string): string {
  return (STATUS_COLOURS[value] ?? ((s: string) => s))(value);
}

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  /** Styles the padded cell (the width is measured before styling). */
  style?: (text: string, row: T) => string;
}

/** A plain-text table: a header line and one padded line per row. */
export function table<T>(rows: T[], columns: Column<T>[]): string {
  const cells = rows.map((row) => columns.map((c) => c.value(row)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[], styled?: T) =>
    values
      .map((v, i) => {
        const padded = i === values.length - 1 ? v : v.padEnd(widths[i]!);
        const style = styled && columns[i]!.style;
        return style ? style(padded, styled) : padded;
      })
      .join("  ")
      .trimEnd();
  return [color.bold(line(columns.map((c) => c.header))), ...cells.map((r, i) => line(r, rows[i]))].join("\n");
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** "3m ago" style ages for tables. */
export function ago(iso: string | null): string {
  if (!iso) return "-";
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86400)}d ago`;
}

export const shortSha = (sha: string) => sha.slice(0, 7);
export const shortRef = (ref: string) => ref.replace(/^refs\/(heads|tags)\//, "");
