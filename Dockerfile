# syntax=docker/dockerfile:1
#
# One image per Herald app, from this one file:
#
#   docker build --build-arg APP=gateway           -t herald-gateway .
#   docker build --build-arg APP=ingest            -t herald-ingest .
#   docker build --build-arg APP=exposure-consumer -t herald-exposure-consumer .
#
# The apps run from TypeScript source through tsx (a runtime dependency), so there is no build
# step: the runtime image holds the production dependencies, libs/, the one app and the tsconfig
# files tsx reads the @herald/* path aliases from (tsx looks for tsconfig.json in the working
# directory; that file extends tsconfig.base.json, which holds the `paths`).
#
# Ports per app (the PORT defaults of libs/config/src/apps.ts): gateway 8080, ingest 8081,
# exposure-consumer 8082. Each app stage below sets PORT to its default (so the HEALTHCHECK
# knows it) and EXPOSEs it.

ARG APP=gateway

FROM node:20-bookworm-slim AS base
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# Stage 1: the full install (dev dependencies too). The runtime image does not use it; build it
# with `docker build --target ci .` to lint and typecheck in a container. (The test suites also
# need a redis-server binary, which this slim image does not have.)
FROM base AS deps
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci

FROM deps AS ci
COPY . .
CMD ["sh", "-c", "npm run lint && npm run typecheck"]

# Final image: production dependencies only (tsx stays: it is a runtime dependency).
FROM base AS runtime
ARG APP
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev
COPY tsconfig.json tsconfig.base.json ./
COPY libs/ libs/
COPY apps/${APP}/ apps/${APP}/
# CMD in exec form expands neither ARG nor ENV, so the entry path is baked into an ENV here and
# expanded by `sh -c` below; `exec` replaces the shell, so node is PID 1 and gets SIGTERM itself.
ENV NODE_ENV=production \
    METADATA_SERVER_DETECTION=none \
    HERALD_APP=${APP} \
    HERALD_MAIN=apps/${APP}/src/main.ts
RUN test -f "$HERALD_MAIN" || { echo "APP must be gateway, ingest or exposure-consumer (got '${APP}')" >&2; exit 1; }
# Sources stay owned by root and read-only for the app user.
USER node
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/healthz', { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["sh", "-c", "exec node --import tsx \"$HERALD_MAIN\""]

FROM runtime AS app-gateway
ENV PORT=8080
EXPOSE 8080

FROM runtime AS app-ingest
ENV PORT=8081
EXPOSE 8081

FROM runtime AS app-exposure-consumer
ENV PORT=8082
EXPOSE 8082

# The image that is built by default: the stage of the chosen app.
FROM app-${APP}
