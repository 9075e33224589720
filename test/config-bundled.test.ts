import { expect, it } from "vitest";
import bundled from "../apps.yaml";
import { call, callJson } from "./helpers";

// A file of its own: its D1 has no stored config version, so the bundled apps.yaml runs.
it("serves the bundled apps.yaml as version 0 while no version is stored", async () => {
  const res = await call("/v1/config");
  expect(res.status).toBe(200);
  expect(res.headers.get("x-config-source")).toBe("bundled");
  expect(res.headers.get("x-config-version")).toBe("0");
  expect(await res.text()).toBe(bundled);
  const hosts = await callJson("/v1/hosts");
  expect(hosts.body.hosts.map((h: any) => h.name)).toEqual(["host-01", "host-02", "host-03"]);
});
