# syntax=docker/dockerfile:1
# The image the Kubernetes manifests run (deploy/kubernetes/*.yaml: registry.example.com/platform/lethe:0.1.0):
#   docker build -t registry.example.com/platform/lethe:0.1.0 .
# The tag is @lethe/cli's version (packages/cli/package.json). See docs/daemon.md "Container image".
# Checked by test/ops/dockerfile.test.ts (structure, and the `pnpm deploy` step run for real).

# ---- build: the whole workspace, dev dependencies included, then a production-only copy of the CLI
FROM node:20.20.2-bookworm-slim AS build
ENV CI=true TURBO_TELEMETRY_DISABLED=1
# pnpm exactly as package.json's packageManager says.
RUN npm install -g pnpm@12.4.2
WORKDIR /src
# Manifests first, so the dependency layer is cached until one of them changes.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY packages/cli/package.json packages/cli/
COPY packages/demo/package.json packages/demo/
COPY packages/daemon/package.json packages/daemon/
COPY packages/engine/package.json packages/engine/
COPY packages/http/package.json packages/http/
RUN pnpm install --frozen-lockfile
COPY tsconfig.base.json turbo.json ./
COPY packages/ packages/
RUN pnpm run build
# A self-contained @lethe/cli: its dist, the workspace packages it uses copied in (with their dist),
# and production dependencies only. The demo and its embedded PostgreSQL live in @lethe/demo, which the
# CLI does not depend on, so the image carries no database.
RUN pnpm deploy --filter @lethe/cli --prod /out \
 && rm -rf /out/src /out/.turbo /out/tsconfig.json \
 && node /out/bin/lethe.js --version

# ---- runtime: Node and the deployed CLI, nothing else
FROM node:20.20.2-bookworm-slim
ENV NODE_ENV=production
# The manifests run as uid/gid 10001 (securityContext runAsUser/fsGroup).
RUN groupadd --system --gid 10001 lethe \
 && useradd --system --uid 10001 --gid lethe --home-dir /home/lethe --create-home --shell /usr/sbin/nologin lethe
COPY --from=build /out /app
# `lethe` on PATH, so `kubectl exec deploy/lethe-daemon -- lethe status` works.
RUN ln -s /app/bin/lethe.js /usr/local/bin/lethe
WORKDIR /home/lethe
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["lethe"]
CMD ["daemon"]
