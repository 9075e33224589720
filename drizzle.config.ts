import { defineConfig } from "drizzle-kit";

// Generates SQL only (`npm run db:generate`); wrangler applies it. No credentials needed.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./migrations",
});
