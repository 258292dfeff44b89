# syntax=docker/dockerfile:1
# ttp container image: a release build on the Rust image, copied into debian:12-slim.
#
#   docker build -t ttp .
#   docker run --rm -p 8080:8080 -e TTP_REDIS_URL=redis://redis:6379 ttp            # API + workers
#   docker run --rm -p 8080:8080 -e TTP_REDIS_URL=... ttp serve --no-workers          # API only
#   docker run --rm --no-healthcheck -e TTP_REDIS_URL=... ttp worker                  # workers only, no HTTP

############################ build ############################
# 1.88 is the crate's rust-version (Cargo.toml) and the highest rust-version in Cargo.lock;
# the bookworm variant has the same glibc as the runtime stage.
FROM rust:1.88-slim-bookworm AS build
WORKDIR /src

# jemalloc (the allocator) builds from C sources with make.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*

# Dependency layer: build every dependency against stub sources with the real manifest
# and lock file, so that this layer is rebuilt only when Cargo.toml or Cargo.lock change.
# .cargo/config.toml carries jemalloc's built-in settings.
COPY Cargo.toml Cargo.lock ./
COPY .cargo .cargo
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked --bin ttp \
    && rm -rf src

# The real build, with the whole (.dockerignore-filtered) tree so that examples, benches
# or files pulled in by include_str! are there too. COPY keeps the context's modification
# times, which can be older than the stub build above: touch the crate roots so cargo
# rebuilds ttp itself instead of shipping the stub.
COPY . .
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin ttp \
    && cp target/release/ttp /usr/local/bin/ttp

############################ runtime ############################
FROM debian:12-slim AS runtime

# curl only serves the HEALTHCHECK (distroless has no shell or HTTP client, and ttp has
# no health subcommand). Versions are not pinned: they follow Debian 12 security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 ttp \
    && useradd --system --uid 10001 --gid ttp --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin ttp

COPY --from=build /usr/local/bin/ttp /usr/local/bin/ttp

# Numeric user, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
ENV TTP_LISTEN=0.0.0.0:8080 \
    TTP_LOG_FORMAT=json
EXPOSE 8080
# ttp drains on SIGTERM: stops accepting, lets running tasks finish within
# TTP_SHUTDOWN_GRACE_MS (default 30 s), hands back the rest, exits 0. Give the container
# runtime a longer stop timeout than that (docker stop -t 40, compose stop_grace_period).
STOPSIGNAL SIGTERM
# Liveness of the HTTP role. `ttp worker` serves no HTTP: run it with --no-healthcheck
# (or healthcheck: disable: true in Compose), or run workers as `ttp serve` as
# deploy/docker-compose.yml does.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["curl", "-fsS", "--max-time", "2", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]

ENTRYPOINT ["/usr/local/bin/ttp"]
CMD ["serve"]
