# syntax=docker/dockerfile:1
# One image for every pflow process: `pflow serve` (the default command) or
# `pflow worker`. TypeScript runs as it is (Node 24 strips the types), so there
# is no build step for the server. The first stage builds the web console (ui/,
# with the dev dependencies, which it then drops) and keeps production dependencies.

FROM node:24-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
COPY ui ./ui
# npm ci runs `prepare`, which bundles the console into ui/dist.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim
LABEL org.opencontainers.image.title="pflow" \
      org.opencontainers.image.description="pflow: declarative AI workflows (API and workers)"
ENV NODE_ENV=production \
    PFLOW_HOST=0.0.0.0 \
    PFLOW_PORT=8080 \
    PFLOW_WORKER_PORT=9090 \
    PFLOW_STORE_URL=sqlite:/tmp/pflow.db
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY cli ./cli
COPY compiler ./compiler
COPY engine ./engine
COPY schemas ./schemas
COPY server ./server
COPY --from=dependencies /app/ui/dist ./ui/dist
# The committed definitions: what `pflow serve` loads by default (./definitions;
# Helm's definitions.source: image), the bundled examples beside them.
COPY definitions ./definitions
COPY examples ./examples
# Not root, and nothing written outside /tmp: runs with a read-only root filesystem.
USER 10001:10001
EXPOSE 8080 9090
# Healthy when the process answers /healthz on its port: the API's or a worker's.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "Promise.any([process.env.PFLOW_PORT, process.env.PFLOW_WORKER_PORT].map((p) => fetch(`http://127.0.0.1:${p}/healthz`).then((r) => { if (!r.ok) throw r.status; }))).then(() => process.exit(0), () => process.exit(1))"]
ENTRYPOINT ["node", "cli/pflow.js"]
CMD ["serve"]
