// Checks a request against GitHub's own OpenAPI description (@octokit/openapi): the operation
// (method and path template) must exist, and the JSON body must be valid for its request schema.
// Runs on the Node side of the tests (the stand-in GitHub), never inside the Worker.
import { Validator, type Schema } from "@cfworker/json-schema";
import { createRequire } from "node:module";

interface Operation {
  operationId: string;
  requestBody?: { required?: boolean; content?: Record<string, { schema?: unknown }> };
}
interface Description {
  paths: Record<string, Record<string, Operation>>;
  components: Record<string, Record<string, unknown>>;
}

let description: Description | null = null;
const templates: Array<{ template: string; pattern: RegExp }> = [];
const validators = new Map<string, Validator>();

function load(): Description {
  if (!description) {
    const require = createRequire(import.meta.url);
    description = require("@octokit/openapi/generated/api.github.com.json") as Description;
    for (const template of Object.keys(description.paths)) {
      const source = template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+");
      templates.push({ template, pattern: new RegExp(`^${source}$`) });
    }
  }
  return description;
}

/**
 * OpenAPI 3.0's schema dialect to JSON Schema: `$ref`s to components inlined (a cycle is cut to
 * `{}`), and `nullable: true` turned into a type that also allows null.
 */
export function toJsonSchema(node: unknown, components: Description["components"], stack: string[] = []): unknown {
  if (Array.isArray(node)) return node.map((item) => toJsonSchema(item, components, stack));
  if (!node || typeof node !== "object") return node;
  const record = node as Record<string, unknown>;
  if (typeof record.$ref === "string") {
    const [, , kind, name] = record.$ref.split("/");
    if (stack.includes(record.$ref)) return {};
    return toJsonSchema(components[kind!]?.[name!], components, [...stack, record.$ref]);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (key === "nullable" || key === "example" || key === "examples") continue;
    // `properties` maps names to schemas: its keys are never keywords.
    out[key] = key === "properties" ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, toJsonSchema(v, components, stack)])) : toJsonSchema(value, components, stack);
  }
  if (record.nullable === true) {
    if (typeof out.type === "string") out.type = [out.type, "null"];
    else if (out.enum) out.enum = [...(out.enum as unknown[]), null];
    else if (out.oneOf || out.anyOf || out.allOf) return { anyOf: [out, { type: "null" }] };
  }
  return out;
}

/** The operation a request is for: `null` when GitHub has no such method and path. */
export function findOperation(method: string, pathname: string): { template: string; operation: Operation } | null {
  const spec = load();
  const verb = method.toLowerCase();
  // Literal segments beat templated ones (GitHub's own routing): the fewest `{}` wins.
  const matches = templates.filter((t) => t.pattern.test(pathname) && spec.paths[t.template]![verb]);
  matches.sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0));
  const best = matches[0];
  return best ? { template: best.template, operation: spec.paths[best.template]![verb]! } : null;
}

/** Problems with a request, as sentences; empty when GitHub's description accepts it. */
export function checkRequest(method: string, pathname: string, body: unknown): { operationId: string | null; problems: string[] } {
  const found = findOperation(method, pathname);
  if (!found) return { operationId: null, problems: [`${method} ${pathname} is not an operation of GitHub's REST API`] };
  const { operation } = found;
  const schema = operation.requestBody?.content?.["application/json"]?.schema;
  if (!schema) return { operationId: operation.operationId, problems: body === undefined ? [] : [`${operation.operationId} takes no JSON body`] };
  if (body === undefined) return { operationId: operation.operationId, problems: operation.requestBody?.required ? [`${operation.operationId} needs a JSON body`] : [] };
  let validator = validators.get(operation.operationId);
  if (!validator) {
    validator = new Validator(toJsonSchema(schema, load().components) as Schema, "7", false);
    validators.set(operation.operationId, validator);
  }
  const result = validator.validate(body ?? null);
  return { operationId: operation.operationId, problems: result.valid ? [] : result.errors.map((e) => `${e.instanceLocation}: ${e.error}`) };
}
