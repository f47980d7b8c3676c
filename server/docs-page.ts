import type { FastifySwaggerUiOptions } from "@fastify/swagger-ui";

/**
 * The browsable API page at /docs: Swagger UI reading the one OpenAPI
 * document, /openapi.json (the address the README and docs/api.md give), and
 * branded pflow instead of the plugin's Fastify logo and "Swagger UI" title.
 * The plugin always sets `url` to its own ./json; `urls` takes precedence over
 * `url` in Swagger UI's standalone layout, so it names /openapi.json instead.
 */
const LOGO = `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="32" viewBox="0 0 120 32">
<text x="0" y="24" font-family="system-ui, sans-serif" font-size="24" font-weight="700" fill="#ffffff">pflow API</text>
</svg>`;

const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">
<rect width="16" height="16" rx="3" fill="#1f6feb"/><text x="4" y="12" font-family="sans-serif" font-size="11" font-weight="700" fill="#fff">p</text>
</svg>`;

export const DOCS_PAGE: FastifySwaggerUiOptions = {
  routePrefix: "/docs",
  uiConfig: { docExpansion: "list", urls: [{ url: "/openapi.json", name: "pflow API" }] },
  logo: { type: "image/svg+xml", content: Buffer.from(LOGO), href: "/docs", target: "_self" },
  theme: {
    title: "pflow API",
    favicon: [
      {
        filename: "favicon.svg",
        rel: "icon",
        sizes: "any",
        type: "image/svg+xml",
        content: Buffer.from(FAVICON),
      },
    ],
  },
};
