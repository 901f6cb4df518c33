# syntax=docker/dockerfile:1
# Build stage: compile TypeScript and bundle it with its dependencies (dist/bundle: no
# node_modules are needed at run time).
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY proto ./proto
COPY scripts/build-proto.mjs scripts/bundle.mjs ./scripts/
COPY src ./src
COPY bin ./bin
RUN npm run build

# Runtime stage: what runs, as a non-root user, under tini so that signals reach the helper
# and zombies of a wrapped cmd are reaped when the helper is PID 1.
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/spiffe-helper
COPY --from=build /src/dist/bundle ./dist/bundle
COPY --from=build /src/bin ./bin
# The config is ./helper.conf, that is /etc/spiffe-helper/helper.conf (mount a ConfigMap there);
# when there is none, the SPIFFE_HELPER_* environment variables alone. --config FILE overrides.
WORKDIR /etc/spiffe-helper
USER node
# bin/spiffe-helper starts Node with the helper's V8 flags and execs, keeping tini's child pid.
ENTRYPOINT ["/usr/bin/tini", "--", "/opt/spiffe-helper/bin/spiffe-helper"]
