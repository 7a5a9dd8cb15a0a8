# vitrine in a container: one binary, its shared libraries, nothing else.
#
#   docker build -t vitrine .
#   docker run -p 6333:6333 -v vitrine-data:/data -v "$PWD/weights:/weights:ro" vitrine
#
# For arm64 (Raspberry Pi 4/5, Graviton, Ampere; docs/arm64.md), or both:
#
#   docker buildx build --platform linux/arm64 -t vitrine:arm64 --load .
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/vitrine --push .
#
# The build stage runs on the build machine's own platform and
# cross-compiles for the target (tools/build-release.sh --arch
# $TARGETARCH: make CROSS=aarch64-linux-gnu-), so no compiler runs
# emulated; only the runtime stage's apt-get runs as the target, which on
# an x86 machine needs qemu registered with binfmt_misc (Debian:
# apt-get install qemu-user-static binfmt-support; elsewhere docker's
# documented `docker run --privileged --rm tonistiigi/binfmt --install arm64`).
# A plain `docker build` builds for the machine it runs on.
#
# Build arguments:
#   VITRINE_FETCH_WEIGHTS=1   run `make weights` in the build stage and put
#                             openai/clip-vit-base-patch32 into the image at
#                             /weights (605 MB; needs the internet)
#   VITRINE_COMMIT=$(git rev-parse HEAD)
#                             the commit GET / reports (.git is not sent)
#
# The build stage runs tools/build-release.sh, the script tests/e2e/release.sh
# runs in `make test`: the binary, the health probe and the list of runtime
# packages come from it, so the image holds what the tests checked.
# docs/operations.md has the details (volumes, users, ports, upgrades).
# Inference uses one thread per CPU the container may use (docker --cpus and
# --cpuset-cpus are honoured); OPENBLAS_NUM_THREADS=N overrides that.

FROM --platform=$BUILDPLATFORM debian:bookworm-slim AS build
# Set by BuildKit: the Debian architecture to build for (amd64, arm64).
ARG TARGETARCH
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# The build packages first, in a layer of their own that source changes
# do not invalidate (for another architecture: the cross compiler and the
# target's -dev packages).
COPY tools/deps.sh tools/deps.sh
RUN tools/deps.sh --build --arch "$TARGETARCH" && rm -rf /var/lib/apt/lists/*
COPY . .
ARG VITRINE_COMMIT=
RUN tools/build-release.sh --prefix /opt/vitrine --arch "$TARGETARCH"
ARG VITRINE_FETCH_WEIGHTS=0
RUN mkdir -p /opt/weights \
 && if [ "$VITRINE_FETCH_WEIGHTS" = 1 ]; then \
        make weights && mv weights/clip-vit-base-patch32 /opt/weights/; \
    fi

FROM debian:bookworm-slim
# Exactly the packages that own the libraries the binary loads, as
# build-release.sh found them with ldd and dpkg -S.
COPY --from=build /opt/vitrine/share/vitrine/runtime-packages /tmp/runtime-packages
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive xargs -a /tmp/runtime-packages \
        apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages
RUN groupadd --system --gid 10001 vitrine \
 && useradd --system --uid 10001 --gid vitrine --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin vitrine \
 && mkdir -p /data /weights \
 && chown vitrine:vitrine /data
COPY --from=build /opt/vitrine/ /usr/local/
COPY --from=build /opt/weights/ /weights/
USER vitrine
WORKDIR /data
VOLUME /data
EXPOSE 6333
# The probe reads $VITRINE_PORT like the server: set it (-e VITRINE_PORT=N)
# to move both. start-period covers a restart that loads a large graph.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["vitrine-healthcheck"]
# Arguments after the image name are appended: later flags win
# (docker run vitrine --max-body 104857600). Other commands:
# docker run --entrypoint vitrine IMAGE index|search|export ...
ENTRYPOINT ["vitrine", "serve", "--host", "0.0.0.0", "--data", "/data", "--weights", "/weights/clip-vit-base-patch32"]
