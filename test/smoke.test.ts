import { expect, it } from "vitest";
import { call } from "./helpers";

it("answers /health", async () => {
  const res = await call("/health", { token: null });
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ status: "ok" });
});
