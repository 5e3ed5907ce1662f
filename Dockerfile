# syntax=docker/dockerfile:1

# Build stage: a static, pure-Go binary (SQLite is modernc.org/sqlite, so no
# cgo and no C library are needed at run time).
FROM golang:1.26-bookworm AS build
WORKDIR /src

# Modules first, in their own layer, so a source change does not download
# them again.
COPY go.mod go.sum ./
RUN go mod download

COPY . .

# Build information shown by "latchkey version"; see the README for the
# --build-arg values a release build passes.
ARG VERSION=devel
ARG COMMIT=
ARG DATE=

RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
      -o /out/latchkey ./cmd/latchkey \
 && mkdir /out/data

# Run stage: no shell, no package manager, a non-root user (65532).
FROM gcr.io/distroless/static-debian12:nonroot

LABEL org.opencontainers.image.title="latchkey" \
      org.opencontainers.image.description="Latchkey, an OAuth 2.0 authorization server"

COPY --from=build /out/latchkey /usr/local/bin/latchkey
# The data directory belongs to the run-time user, so a new named volume
# mounted on it starts out writable.
COPY --from=build --chown=65532:65532 /out/data /data

USER nonroot:nonroot
WORKDIR /data
# The SQLite database and, beside it, the key file that seals signing keys.
VOLUME /data
EXPOSE 8080

ENV LATCHKEY_DATABASE_URL=/data/latchkey.db \
    LATCHKEY_ADDR=:8080

# "latchkey health" asks /readyz on 127.0.0.1 at LATCHKEY_ADDR's port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/latchkey", "health"]

ENTRYPOINT ["/usr/local/bin/latchkey"]
CMD ["serve"]
