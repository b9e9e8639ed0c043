# One image for the operator and every mover: `scribe operator`, `scribe mover rsync-source`, ...
# (bin/scribe). Go tools are built from the same pinned wrapper modules the tests use (tools/).

FROM golang:1.26-bookworm AS tools
WORKDIR /src
COPY scripts/tools.sh scripts/tools.sh
COPY tools tools
# restic and rclone for their movers; CGO off as upstream releases build them.
RUN SCRIBE_CACHE=/cache bash scripts/tools.sh ensure restic rclone \
 && mkdir -p /out && cp /cache/bin/restic-*/restic /cache/bin/rclone-*/rclone /out/

FROM node:20-bookworm-slim AS build
WORKDIR /scribe
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY machines machines
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# rsync mover: rsync and rrsync (a Python script), sshd and ssh. acl: ACLs of rclone's records.
RUN apt-get update \
 && apt-get install -y --no-install-recommends rsync python3 openssh-server openssh-client acl ca-certificates \
 && rm -rf /var/lib/apt/lists/* /etc/ssh/ssh_host_* \
 && mkdir -p /run/sshd
COPY --from=tools /out/restic /out/rclone /usr/local/bin/
COPY --from=build /scribe/node_modules /scribe/node_modules
COPY --from=build /scribe/dist /scribe/dist
COPY package.json /scribe/package.json
COPY bin /scribe/bin
# The operator runs unprivileged; rsync mover pods set runAsUser 0 with a minimal capability set
# (design decision 10), every other mover runs as 65534. The root filesystem is read-only in pods.
USER 65534:65534
ENTRYPOINT ["/scribe/bin/scribe"]
CMD ["operator"]
