# Multi-stage build: a Swift 6 toolchain image builds a release binary; a slim Debian runtime runs it.
#   docker build -t idempotency-gateway .
#   docker run -p 8080:8080 -p 9090:9090 -v gateway-data:/data idempotency-gateway --upstream http://api:9000

# ---- build ----
FROM swift:6.2-bookworm AS build
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -q -y --no-install-recommends libsqlite3-dev zlib1g-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
# Resolve dependencies in their own layer so source edits don't refetch them.
COPY ./Package.* ./
RUN swift package resolve
COPY . .
RUN swift build -c release --product idempotency-gateway --static-swift-stdlib \
    && mkdir /staging \
    && cp "$(swift build -c release --show-bin-path)/idempotency-gateway" /staging/ \
    && cp -r config /staging/config

# ---- run ----
FROM debian:bookworm-slim
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -q -y --no-install-recommends libsqlite3-0 zlib1g ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /app --uid 10001 gateway \
    && mkdir /data && chown gateway:gateway /data
WORKDIR /app
COPY --from=build --chown=gateway:gateway /staging /app
USER gateway
VOLUME /data
EXPOSE 8080 9090
# The gateway listens on all interfaces; the admin listener on the container's loopback, where the health check
# reaches it. To reach the admin API from outside, set GATEWAY_ADMIN_LISTEN=0.0.0.0:9090 with GATEWAY_ADMIN_TOKEN
# (a non-loopback admin address requires a token) at `docker run`, and publish 9090.
# MALLOC_MMAP_THRESHOLD_: buffers over 128 KiB (large bodies) go back to the system when freed, so a burst of large
# bodies does not stay in the container's resident memory (glibc's adaptive threshold would keep them).
ENV GATEWAY_LISTEN=0.0.0.0:8080 \
    GATEWAY_ADMIN_LISTEN=127.0.0.1:9090 \
    GATEWAY_STORE_PATH=/data/idempotency.sqlite \
    MALLOC_MMAP_THRESHOLD_=131072
# With GATEWAY_ADMIN_TOKEN set, every admin route (/healthz included) wants it: the check sends it (shell form, so
# the variable expands at each check).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD curl -fsS ${GATEWAY_ADMIN_TOKEN:+-H "Authorization: Bearer $GATEWAY_ADMIN_TOKEN"} http://127.0.0.1:9090/healthz || exit 1
ENTRYPOINT ["/app/idempotency-gateway"]
CMD ["serve"]
