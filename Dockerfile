# Multi-stage build: a static msixguard binary on a distroless, non-root base.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/msixguard ./cmd/msixguard

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/msixguard /usr/local/bin/msixguard
COPY --from=build /src/testdata/conformance/08_many_windows_and_hosts/events.ndjson /data/sample-events.ndjson
USER nonroot:nonroot
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/msixguard"]
CMD ["run"]
