# The image `kubesim sweep job` runs: the kubesim binary, with the shipped scenarios in its
# working directory /work.
#
#   docker build -t kubesim:latest .
#
# To sweep your own scenario on a cluster, build an image on top of this one with your files in
# /work (the sweep file's path in the Job is relative to /work):
#
#   FROM kubesim:latest
#   COPY my-service/ /work/my-service/
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY benches benches
RUN cargo build --release --locked --bin kubesim

FROM debian:bookworm-slim
COPY --from=build /src/target/release/kubesim /usr/local/bin/kubesim
WORKDIR /work
COPY scenarios scenarios
ENTRYPOINT ["kubesim"]
