# One Dockerfile, one target per binary:
#
#   docker build --target gateway         -t ghcr.io/minitwit/gateway:1.2.3 \
#       --build-arg VERSION=1.2.3 --build-arg COMMIT="$(git rev-parse HEAD)" .
#   docker build --target user-service    ...
#   docker build --target message-service ...
#   docker build --target follow-service  ...
#   docker build --target simulator       ...   (minitwit-sim, for load tests)
#
# All four services are compiled once, in the shared `builder` stage, so building
# the four targets one after the other costs one compilation. Dependencies are
# compiled in their own layer (cargo-chef), which is rebuilt only when a
# Cargo.toml or Cargo.lock changes, not on every source edit.
#
# Two build arguments let the same file build offline, from images made on the
# host (tests/swarm/images.sh does this; BuildKit skips the stages not used):
#
#   RUNTIME_BASE=<image>   a Debian image that already has ca-certificates, curl
#                          and tini (default: debian:bookworm-slim plus apt-get)
#   BINARIES=prebuilt      take the five release binaries from
#                          target/image-bin/ in the build context instead of
#                          compiling them in the `builder` stage
#
# The runtime image (user, files, health check, entrypoint) is the same either way.
# No `# syntax=` line: the builder's own Dockerfile frontend is enough, and a
# frontend image could not be pulled where no registry answers.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm
ARG RUNTIME_BASE=runtime-debian
ARG BINARIES=builder

# --------------------------------------------------------------------------
# chef: the Rust toolchain plus cargo-chef
# --------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS chef
ARG CARGO_CHEF_VERSION=0.1.77
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /app

# --------------------------------------------------------------------------
# planner: reduce the workspace to a recipe (manifests + lock file only)
# --------------------------------------------------------------------------
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# --------------------------------------------------------------------------
# builder: dependencies first (cached layer), then the workspace itself
# --------------------------------------------------------------------------
FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked \
        --bin gateway --bin user-service --bin message-service --bin follow-service \
        --bin minitwit-sim \
    && mkdir -p /out \
    && cp target/release/gateway target/release/user-service \
          target/release/message-service target/release/follow-service \
          target/release/minitwit-sim /out/

# prebuilt: release binaries built on the host (BINARIES=prebuilt), for builds
# that cannot compile inside a container
FROM scratch AS prebuilt
COPY target/image-bin/ /out/

FROM ${BINARIES} AS binaries

# --------------------------------------------------------------------------
# runtime: what every service image shares
# --------------------------------------------------------------------------
# curl is only there for HEALTHCHECK; ca-certificates for any outbound TLS; libssl3 for
# the built-in libpq's TLS to PostgreSQL (pq-sys `bundled` links the system's OpenSSL).
FROM debian:${DEBIAN_RELEASE}-slim AS runtime-debian
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl libssl3 tini \
    && rm -rf /var/lib/apt/lists/*

FROM ${RUNTIME_BASE} AS runtime
ARG VERSION=0.0.0-dev
ARG COMMIT=unknown
ARG CREATED=unknown
RUN groupadd --system --gid 10001 minitwit \
    && useradd --system --uid 10001 --gid minitwit --home-dir /app --shell /usr/sbin/nologin minitwit \
    && mkdir -p /app/data \
    && chown -R minitwit:minitwit /app
WORKDIR /app
LABEL org.opencontainers.image.source="https://github.com/minitwit/minitwit-rs" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.vendor="MiniTwit" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${CREATED}"
ENV MINITWIT_VERSION="${VERSION}" \
    MINITWIT_COMMIT="${COMMIT}"
# numeric ids, so Kubernetes-style runAsNonRoot checks can verify them
USER 10001:10001
STOPSIGNAL SIGTERM
# PORT is set per target below; the shell expands it when the check runs. A service
# serving mutual TLS answers plain HTTP only on its loopback port: set HEALTH_PORT to
# its <PREFIX>_HTTP__TLS__LOOPBACK_PORT (the stack sets its own checks).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["/bin/sh", "-c", "curl -fsS --max-time 2 \"http://127.0.0.1:${HEALTH_PORT:-$PORT}/health\" >/dev/null || exit 1"]

# --------------------------------------------------------------------------
# one target per binary
# --------------------------------------------------------------------------
FROM runtime AS user-service
LABEL org.opencontainers.image.title="minitwit-user-service" \
      org.opencontainers.image.description="MiniTwit user service: accounts and passwords"
ENV PORT=8081 \
    USER_SERVICE_HTTP__HOST=0.0.0.0 \
    USER_SERVICE_HTTP__PORT=8081 \
    USER_SERVICE_LOG__FORMAT=json
COPY --from=binaries --chown=root:root --chmod=0755 /out/user-service /usr/local/bin/user-service
EXPOSE 8081
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/user-service"]

FROM runtime AS message-service
LABEL org.opencontainers.image.title="minitwit-message-service" \
      org.opencontainers.image.description="MiniTwit message service: messages and timelines"
ENV PORT=8082 \
    MESSAGE_SERVICE_HTTP__HOST=0.0.0.0 \
    MESSAGE_SERVICE_HTTP__PORT=8082 \
    MESSAGE_SERVICE_LOG__FORMAT=json
COPY --from=binaries --chown=root:root --chmod=0755 /out/message-service /usr/local/bin/message-service
EXPOSE 8082
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/message-service"]

FROM runtime AS follow-service
LABEL org.opencontainers.image.title="minitwit-follow-service" \
      org.opencontainers.image.description="MiniTwit follow service: the follow graph"
ENV PORT=8083 \
    FOLLOW_SERVICE_HTTP__HOST=0.0.0.0 \
    FOLLOW_SERVICE_HTTP__PORT=8083 \
    FOLLOW_SERVICE_LOG__FORMAT=json
COPY --from=binaries --chown=root:root --chmod=0755 /out/follow-service /usr/local/bin/follow-service
EXPOSE 8083
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/follow-service"]

# The simulator is a client, not a server: no port, no health check.
FROM runtime AS simulator
LABEL org.opencontainers.image.title="minitwit-sim" \
      org.opencontainers.image.description="MiniTwit simulator client (load and conformance runs)"
HEALTHCHECK NONE
COPY --from=binaries --chown=root:root --chmod=0755 /out/minitwit-sim /usr/local/bin/minitwit-sim
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/minitwit-sim"]

# Last, so that a plain `docker build .` produces the gateway.
FROM runtime AS gateway
LABEL org.opencontainers.image.title="minitwit-gateway" \
      org.opencontainers.image.description="MiniTwit gateway: web pages and the simulator API"
ENV PORT=8080 \
    GATEWAY_HTTP__HOST=0.0.0.0 \
    GATEWAY_HTTP__PORT=8080 \
    GATEWAY_LOG__FORMAT=json
COPY --from=binaries --chown=root:root --chmod=0755 /out/gateway /usr/local/bin/gateway
# Templates and the style sheet are compiled into the binary (include_str!).
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/gateway"]
