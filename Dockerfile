# syntax=docker/dockerfile:1
# Build stage: compile TypeScript, then keep production dependencies only.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY proto ./proto
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
USER node
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/opt/spiffe-helper/dist/cli.js"]
CMD ["--config", "/etc/spiffe-helper/helper.conf"]
