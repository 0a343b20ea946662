# syntax=docker/dockerfile:1
#
# The Herald images, one Dockerfile for the three apps. Build one with the repository root as the
# context and the app's name in APP:
#
#   docker build --build-arg APP=gateway           -t herald-gateway .
#   docker build --build-arg APP=ingest            -t herald-ingest .
#   docker build --build-arg APP=exposure-consumer -t herald-exposure-consumer .
#
# The stages are shared; what differs between the apps (port, the gateway's admin port and node
# flags, the command) is in one small stage per app, named after it, which the final stage starts
# from. tools/dev/test/dockerfiles.spec.ts checks each app's image (stages, user, install, port,
# healthcheck, command) as `--build-arg APP=<app>` builds it.
#
# An image runs its app's bundle (dist/apps/<app>/main.js, built by tools/build with esbuild: the
# app and libs/ in one CommonJS file, npm packages required from node_modules, a source map so
# stack traces name the TypeScript). No TypeScript, no tsx and no dev dependency in the image.

# No default: a build without --build-arg APP fails instead of building some app.
ARG APP

# npm settings and the lock file, for the two install stages below.
FROM node:20-bookworm-slim AS npm
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./

# The bundle. All dependencies (esbuild, tsx run the build), the sources it needs: libs/ and this
# app, no other.
FROM npm AS build
ARG APP
RUN --mount=type=cache,target=/root/.npm npm ci
COPY tsconfig.json tsconfig.base.json ./
COPY tools/build/ tools/build/
COPY libs/ libs/
COPY apps/${APP}/ apps/${APP}/
RUN node --import tsx tools/build/src/main.ts ${APP}

# Production dependencies only, exactly as locked.
FROM npm AS deps
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev

# What every app's image has: node_modules from deps, production settings and the healthcheck.
FROM node:20-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    METADATA_SERVER_DETECTION=none
COPY --from=deps /app/node_modules ./node_modules
# The slim image has no curl: node fetches /healthz itself, on the PORT its app stage sets.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/healthz', { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# One stage per app: its default PORT (libs/config/src/apps.ts), what it exposes and its command.
# The commands are in exec form: node is PID 1 and receives SIGTERM itself (the app drains, then
# exits); stack traces are mapped back to the TypeScript sources.

# 8080: the WebSocket and /healthz, /readyz (status only). 9080 (ADMIN_PORT): /metrics and the
# detailed /readyz, for Prometheus and operators only; never publish it to the internet.
# NODE_OPTIONS, 16 MB semi-spaces (V8's largest default, and what the benchmarks measure on a large
# host; Node sizes them from the container's memory limit otherwise: 1 MB under 512 MiB, 4 MB under
# 1 GiB, measured with Node 20): a category message's objects live from its routing until
# its log write and socket writes, and with 1 MB semi-spaces they outlived the scavenges (GC took a
# quarter of the gateway's CPU in a broadcast). The price is a connect storm's garbage, ~5 KB of
# RSS per connection, until V8's memory reducer returns it about a minute later (docs/BENCHMARKS.md,
# "The gateway's young generation back to 16 MB"). The benchmarks read this line, so they measure
# what ships.
# --single-threaded-gc (a V8 flag NODE_OPTIONS refuses, hence on the command line): the collector's
# work on the main thread only, without helper threads to start and wait for; in a broadcast to
# 19,900 sessions on 2 cores the gateway spent 31.7 -> 29.4 us of CPU per delivery, the last member
# no later (docs/BENCHMARKS.md, "One collector thread for the gateway"). On a host with idle cores
# to spare, dropping it shortens the collector's pauses at the cost of that CPU.
FROM runtime AS gateway
ENV PORT=8080
ENV NODE_OPTIONS="--max-semi-space-size=16"
EXPOSE 8080 9080
CMD ["node", "--enable-source-maps", "--single-threaded-gc", "dist/apps/gateway/main.js"]

# NODE_OPTIONS, 16 MB semi-spaces for the same reason: with 1 MB (what a 512 MiB limit gives) ingest
# spent 222 -> 364 µs of CPU per request at 5,000 requests/s (docs/BENCHMARKS.md).
FROM runtime AS ingest
ENV PORT=8081
ENV NODE_OPTIONS="--max-semi-space-size=16"
EXPOSE 8081
CMD ["node", "--enable-source-maps", "dist/apps/ingest/main.js"]

# NODE_OPTIONS, a larger young generation: each batch's messages, parsed events and statement
# arrays live for one batch write (~40 ms); with Node's default 16 MB semi-spaces they outlived
# the scavenges and the garbage collector took a third of the consumer's CPU (docs/BENCHMARKS.md).
# --single-threaded-gc, as the gateway's: at 1,000 events a second the collector's helper threads
# cost the consumer up to a quarter of its CPU (29.0-37.5 -> 26.5-27.5 us an event; docs/BENCHMARKS.md,
# "The consumer's collector on one thread").
FROM runtime AS exposure-consumer
ENV PORT=8082
ENV NODE_OPTIONS="--max-semi-space-size=64"
EXPOSE 8082
CMD ["node", "--enable-source-maps", "--single-threaded-gc", "dist/apps/exposure-consumer/main.js"]

# The image: the app's stage and the app's bundle from build, nothing else (no sources, no npm
# cache, no dev dependencies, no other app). Files stay owned by root and read-only for the app's
# user (uid 1000 in the node image; the Kubernetes manifests set runAsUser: 1000 to match).
FROM ${APP} AS image
ARG APP
COPY --from=build /app/dist/apps/${APP}/ dist/apps/${APP}/
USER node
