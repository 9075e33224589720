// Turns the fault suite's records (.test-out/faults/*.json, written by faults/report.ts) into RELIABILITY.md.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export function writeReliability(dir = ".test-out/faults", out = "RELIABILITY.md") {
  if (!existsSync(dir)) return false;
  const cases = readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .flatMap((f) => JSON.parse(readFileSync(join(dir, f), "utf8")).map((c) => ({ ...c, file: f.replace(/\.json$/, "") })));
  const held = cases.filter((c) => c.held).length;
  const lines = [
    "# Reliability",
    "",
    `Written by \`npm run test:faults\` on ${new Date().toISOString()}: ${held} of ${cases.length} cases held.`,
    "Each case injects a real fault into real processes (wrangler dev, the scripted or real agent, the relay, sshd) and checks what must hold.",
    "",
    ...cases.flatMap((c) => [
      `## ${c.held ? "✅" : "❌"} ${c.title}`,
      "",
      `- **Done:** ${c.did}`,
      `- **Must hold:** ${c.must}`,
      `- **Seen:** ${c.saw}`,
      `- **Test:** \`faults/${c.file}\``,
      "",
    ]),
  ];
  writeFileSync(out, lines.join("\n"));
  return true;
}
