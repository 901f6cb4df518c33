# syntax=docker/dockerfile:1
# Build stage: compile TypeScript and bundle it with its dependencies (dist/bundle: no
# node_modules are needed at run time). Its Node is the one the runtime stage ships, the
# version scripts/node.sh pins for the tests: bump them together.
FROM node:24.22.3-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json LICENSE NOTICE ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY proto ./proto
COPY scripts/build-proto.mjs scripts/bundle.mjs scripts/notices.mjs ./scripts/
COPY src ./src
RUN npm run build

# tini, statically linked, from Debian's package: PID 1 that forwards signals to the helper and
# reaps the zombies a wrapped cmd leaves behind.
FROM debian:bookworm-slim AS tini
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

# Runtime stage: glibc and libstdc++ (what the node binary links), node itself, tini and the
# bundle. No shell, no package manager, no npm, yarn or corepack.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="spiffe-helper" \
      org.opencontainers.image.description="Keeps a workload's X.509 and JWT SVIDs fresh on disk and signals the program that uses them" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"
COPY --from=tini /usr/bin/tini-static /usr/bin/tini
COPY --from=build /usr/local/bin/node /nodejs/bin/node
WORKDIR /opt/spiffe-helper
COPY --from=build /src/dist/bundle ./dist/bundle
COPY --from=build /src/LICENSE ./LICENSE
COPY --from=build /src/NOTICE ./NOTICE
# The config is ./helper.conf, that is /etc/spiffe-helper/helper.conf (mount a ConfigMap there);
# when there is none, the SPIFFE_HELPER_* environment variables alone. --config FILE overrides.
WORKDIR /etc/spiffe-helper
# distroless's "nonroot", numeric so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# bin/spiffe-helper's daemon flags, spelled out (no shell here to run the launcher); one-shot
# init containers override the command to drop them (examples/kubernetes/init-once-job.yaml).
ENTRYPOINT ["/usr/bin/tini", "--", "/nodejs/bin/node", "--max-semi-space-size=1", "--no-opt", "--no-maglev", "--optimize-for-size", "--v8-pool-size=1", "/opt/spiffe-helper/dist/bundle/cli.js"]
