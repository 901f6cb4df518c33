# syntax=docker/dockerfile:1
# Build stage: compile TypeScript, then keep production dependencies only.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY proto ./proto
COPY scripts/build-proto.mjs ./scripts/
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Runtime stage: what runs, as a non-root user, under tini so that signals reach the helper
# and zombies of a wrapped cmd are reaped when the helper is PID 1.
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/spiffe-helper
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/proto ./proto
# The config is ./helper.conf, that is /etc/spiffe-helper/helper.conf (mount a ConfigMap there);
# when there is none, the SPIFFE_HELPER_* environment variables alone. --config FILE overrides.
WORKDIR /etc/spiffe-helper
USER node
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/opt/spiffe-helper/dist/cli.js"]
