// Package dockerfile holds the tests that keep the repository's Dockerfile
// to the shape the container image promises: a multi-stage build of a
// static (CGO_ENABLED=0) binary, a distroless or scratch final stage run as
// a non-root user, with a health check, a data volume and latchkey as the
// entrypoint. It has no code of its own; see dockerfile_test.go.
package dockerfile
