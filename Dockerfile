# syntax=docker/dockerfile:1
# payorch: every binary in one image; compose picks the one each service runs.
# Built from Debian bookworm's packages only, like the local build (scripts/install-deps).

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake g++ make pkg-config \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      libboost1.81-dev libboost-json1.81-dev \
      libpqxx-dev libssl-dev libspdlog-dev libcli11-dev libyaml-cpp-dev libjemalloc-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake cmake
COPY protos protos
COPY services services
COPY db db
COPY gateways gateways
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DPAYORCH_BUILD_TESTS=OFF \
 && cmake --build /build -j"$(nproc)" \
      --target payorch-ingress payorch-worker payorch-admin payorch-sandbox-gateway \
 && strip /build/bin/payorch-*

FROM debian:bookworm-slim AS runtime
# Runtime libraries only: the shared objects the binaries link, plus curl for HEALTHCHECKs.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libpqxx-6.4 libspdlog1.10 libboost-json1.81.0 \
      libssl3 libyaml-cpp0.7 libjemalloc2 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin payorch
COPY --from=build /build/bin/payorch-ingress /build/bin/payorch-worker \
     /build/bin/payorch-admin /build/bin/payorch-sandbox-gateway /usr/local/bin/
USER payorch
# Each service in compose.yaml names its binary; this default prints the admin's help.
ENTRYPOINT []
CMD ["payorch-admin", "--help"]
