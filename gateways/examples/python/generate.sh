#!/bin/sh
# Generates the Python stubs this adapter imports, from the same .proto files payorch compiles:
#   payorch/gateway/v1/gateway_pb2.py, gateway_pb2_grpc.py   (the adapter contract)
#   payorch_example_health/health_pb2.py, health_pb2_grpc.py (grpc.health.v1)
# into OUT_DIR. Generated code is never committed: run this at build, test or start time
# (server.py runs it into a temporary folder when --stubs-dir is not given).
#
# Needs Debian's protobuf-compiler-grpc (protoc, grpc_python_plugin); the generated code runs on
# Debian's python3-grpcio and python3-protobuf.
#
# usage: generate.sh OUT_DIR [PROTO_ROOT]
#   PROTO_ROOT  the folder holding payorch/gateway/v1/gateway.proto (default: the repository's
#               protos/ folder, found relative to this script)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: generate.sh OUT_DIR [PROTO_ROOT]}
proto_root=${2:-$here/../../../protos}
protoc=${PROTOC:-/usr/bin/protoc}
plugin=${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}

if [ ! -f "$proto_root/payorch/gateway/v1/gateway.proto" ]; then
  echo "generate.sh: no payorch/gateway/v1/gateway.proto under $proto_root" >&2
  exit 2
fi
for tool in "$protoc" "$plugin"; do
  if [ ! -x "$tool" ]; then
    echo "generate.sh: $tool not found (apt-get install protobuf-compiler-grpc)" >&2
    exit 2
  fi
done

mkdir -p "$out"
"$protoc" \
  -I "$proto_root" -I "$here/proto" \
  --plugin=protoc-gen-grpc_python="$plugin" \
  --python_out="$out" --grpc_python_out="$out" \
  payorch/gateway/v1/gateway.proto \
  payorch_example_health/health.proto
