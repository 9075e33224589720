// apps.yaml is bundled as text (wrangler.toml [[rules]] Text; the vitest config mirrors it).
declare module "*.yaml" {
  const text: string;
  export default text;
}
