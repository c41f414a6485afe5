# syntax=docker/dockerfile:1
# promoter's container image: a static binary on distroless, running as nonroot.
#   docker build -t promoter .
# Releases use Dockerfile.release over the binaries GoReleaser built.
#   docker run --rm -e GIT_TOKEN -e PROMETHEUS_URL promoter run --repo https://github.com/org/gitops.git

# The tag is go.mod's go version (a test checks they agree), so the image
# builds with the toolchain the module asks for and never downloads another.
FROM golang:1.26.8 AS build
ENV GOTOOLCHAIN=local
WORKDIR /src
# Modules first, so that the download layer is reused while only sources change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/promoter ./cmd/promoter

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/promoter /usr/local/bin/promoter
USER nonroot
ENTRYPOINT ["/usr/local/bin/promoter"]
