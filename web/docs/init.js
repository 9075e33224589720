// Starts Swagger UI on /openapi.json. A file of its own, because the page's CSP allows no inline script.
// @ts-nocheck (SwaggerUIBundle is the global that vendor/swagger-ui-bundle.js defines)
window.SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui" });
