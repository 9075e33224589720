// Types of scripts/local-worker.mjs for the TypeScript that imports it (the benchmarks' controller).
import type { ChildProcess } from "node:child_process";

export const STATE_DIR: string;
export const WORKERD_V8_FLAGS: string;
export function prepareWorker(config: string, outdir: string, options?: { stateDir?: string; vars?: Record<string, string>; v8Flags?: string }): void;
export function inspectorAddress(value?: string): string | null;
export function runWorker(options: { outdir: string; host?: string; port: number; logFile?: string; inspector?: string | null; quiet?: boolean }): Promise<ChildProcess>;
