// Package dockerfile holds the checks of the container image recipe: the
// repository's Dockerfile must stay a multi-stage build of a static
// (CGO_ENABLED=0) binary, with a distroless or scratch final stage that runs
// as a non-root user, has a health check and a data volume, and has latchkey
// as its entrypoint. It has no code of its own; see dockerfile_test.go.
package dockerfile
