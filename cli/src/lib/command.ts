import { defineCommand, renderUsage, type ArgsDef, type CommandDef, type CommandMeta } from "citty";

export interface CtlMeta extends CommandMeta {
  /** Shown under EXAMPLES in the command's --help. */
  examples?: string[];
}

/** citty's defineCommand, with examples in the meta. */
export function command<T extends ArgsDef>(def: CommandDef<T> & { meta: CtlMeta }): CommandDef<T> {
  return defineCommand(def);
}

const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");

/** --help: citty's usage plus examples; colour only on a terminal and never with NO_COLOR. */
export async function showUsage<T extends ArgsDef>(cmd: CommandDef<T>, parent?: CommandDef<T>): Promise<void> {
  let text = await renderUsage(cmd, parent);
  const meta = (typeof cmd.meta === "function" ? await cmd.meta() : await cmd.meta) as CtlMeta | undefined;
  if (meta?.examples?.length) text += `\n\nEXAMPLES\n\n${meta.examples.map((e) => `  ${e}`).join("\n")}\n`;
  const colour = Boolean(process.stdout.isTTY) && !("NO_COLOR" in process.env);
  process.stdout.write(`${colour ? text : stripAnsi(text)}\n`);
}
