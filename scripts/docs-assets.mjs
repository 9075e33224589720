// Copies Swagger UI from the swagger-ui-dist package (pinned by package-lock.json) into the Worker's static
// assets, so /docs loads nothing from another origin. Run by `npm ci` (prepare); the copies are not committed.
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const from = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
const to = join(import.meta.dirname, "..", "web", "docs", "vendor");
mkdirSync(to, { recursive: true });
for (const file of ["swagger-ui.css", "swagger-ui-bundle.js"]) copyFileSync(join(from, file), join(to, file));
