# syntax=docker/dockerfile:1
# promoter's container image: a static binary on distroless, running as nonroot.
#   docker build -t promoter .
#   docker run --rm -e GIT_TOKEN -e PROMETHEUS_URL promoter run --repo https://github.com/org/gitops.git

FROM golang:1.26 AS build
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
