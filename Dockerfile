# The ringfaas platform image (router, worker, CLI, Azurite service) for users with a registry.
# `npx ringfaas image build` makes the same layout with no registry (deploy/platform-image.ts):
#   /opt/ringfaas/app/{package.json,dist/,node_modules/}  compiled code, production packages only
#   ENTRYPOINT node dist/deploy/entrypoint.js, CMD router, USER 1000:1000
#
#   docker build -t registry.example.com/ringfaas-platform:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
#
# Roles: `router` (default), `worker` (needs the Docker socket and runs as root: see
# docs/operations.md), `azurite` (trials), `cli <args>`.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund && rm -rf dist/**/*.map

FROM node:20-bookworm-slim
ARG VERSION=0.0.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title=ringfaas \
      org.opencontainers.image.version=$VERSION \
      org.opencontainers.image.revision=$REVISION \
      ringfaas.platform=1
ENV NODE_ENV=production HOME=/tmp
WORKDIR /opt/ringfaas/app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/dist ./dist
COPY --from=build /src/node_modules ./node_modules
# uid:gid 1000:1000 is the image's `node` user, as in the locally built image.
USER 1000:1000
ENTRYPOINT ["/usr/local/bin/node", "/opt/ringfaas/app/dist/deploy/entrypoint.js"]
CMD ["router"]
