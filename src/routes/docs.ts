import { createRouter } from "../openapi";

/**
 * What /docs may load: its own origin only. Swagger UI's files are the Worker's static assets
 * (web/docs/, copied from the swagger-ui-dist package at install); Swagger UI sets inline
 * style attributes, hence 'unsafe-inline' for styles and nothing else.
 */
const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DeployBot API</title>
<link rel="stylesheet" href="/docs/vendor/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/vendor/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

/** GET /docs: Swagger UI over /openapi.json, served from this origin under a strict CSP. */
export const docsRouter = createRouter().get("/docs", (c) =>
  c.html(page, 200, { "Content-Security-Policy": DOCS_CSP, "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY" }),
);
