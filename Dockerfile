# syntax=docker/dockerfile:1
# Images of the monorepo, built from the repository root:
#   docker build --target driver   -t rds-nvme-csi-driver:dev .   (the CSI plugin; default target)
#   docker build --target sim-nvme -t rds-nvme-csi-sim:dev .      (simulated RDS + NVMe host, for kind)
# Both share one runtime layer with every workspace package built, so the `nvme` stand-in that
# sim-nvme writes (it runs sim-nvme's code with node) also works inside the driver container.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: install with the lockfile, build every package, drop dev dependencies ----------
FROM ${NODE_IMAGE} AS build
ENV TURBO_TELEMETRY_DISABLED=1 NO_COLOR=1 CI=1
WORKDIR /src
# Manifests first so the dependency layer is cached while only sources change.
COPY package.json package-lock.json ./
COPY packages/driver/package.json packages/driver/
COPY packages/events/package.json packages/events/
COPY packages/mountinfo/package.json packages/mountinfo/
COPY packages/sim-nvme/package.json packages/sim-nvme/
COPY e2e/package.json e2e/
# No install scripts: ssh2 runs in pure JS without its optional native addon, and protoc and
# turbo ship their binaries inside their npm packages.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npx turbo run build --filter='./packages/*' \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime: Node 20 plus the host tools the node plugin runs ------------------------------
FROM ${NODE_IMAGE} AS runtime
# util-linux/mount: mount, umount, blkid, losetup; e2fsprogs/xfsprogs: mkfs, resize2fs,
# xfs_growfs; nvme-cli: connect/disconnect on real hosts. nvme-cli's package generates
# /etc/nvme/hostnqn and hostid at install time; remove them so no two nodes share a host NQN
# baked into the image (the node DaemonSet mounts the host's /etc/nvme instead).
RUN apt-get update \
 && apt-get install -y --no-install-recommends util-linux mount e2fsprogs xfsprogs nvme-cli \
 && rm -rf /var/lib/apt/lists/* \
 && rm -f /etc/nvme/hostnqn /etc/nvme/hostid
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/packages/driver/package.json packages/driver/
COPY --from=build /src/packages/driver/dist packages/driver/dist
COPY --from=build /src/packages/events/package.json packages/events/
COPY --from=build /src/packages/events/dist packages/events/dist
COPY --from=build /src/packages/mountinfo/package.json packages/mountinfo/
COPY --from=build /src/packages/mountinfo/dist packages/mountinfo/dist
COPY --from=build /src/packages/sim-nvme/package.json packages/sim-nvme/
COPY --from=build /src/packages/sim-nvme/dist packages/sim-nvme/dist
# `sim-nvme` on PATH, so `kubectl exec <pod> -- sim-nvme fault rename <nqn>` works in the kind e2e.
RUN printf '#!/bin/sh\nexec node /app/packages/sim-nvme/dist/cli.js "$@"\n' > /usr/local/bin/sim-nvme \
 && chmod 0755 /usr/local/bin/sim-nvme

# ---- sim-nvme: the simulated RDS target and NVMe host agent (kind e2e only) -----------------
FROM runtime AS sim-nvme
ENTRYPOINT ["sim-nvme"]

# ---- driver: the CSI plugin (last stage, so it is also what a plain `docker build .` makes) --
FROM runtime AS driver
ENTRYPOINT ["node", "/app/packages/driver/dist/main.js"]
