#!/usr/bin/env bash
# Regenerates src/gen/ from proto/csi.proto with ts-proto.
#
# protoc comes from the npm `protoc` package (its tarball ships the binaries and the well-known
# type protos), the plugin from the npm `ts-proto` package: nothing is downloaded. The output is
# deterministic, so `git diff --exit-code src/gen` after running this shows whether the committed
# code matches the proto (scripts/run-tests.sh checks exactly that).
set -euo pipefail
cd "$(dirname "$0")/.."

# Resolve both tools through Node's module resolution, so hoisted or nested installs both work.
resolve_pkg_dir() {
  node -e 'const p = require("node:path"); console.log(p.dirname(require.resolve(process.argv[1] + "/package.json")))' "$1"
}
protoc_dir=$(resolve_pkg_dir protoc)
ts_proto_dir=$(resolve_pkg_dir ts-proto)

# Options (see /work/shared/reference/toolchain.md, "ts-proto findings"):
#  - forceLong=bigint: CSI sizes are int64 bytes; numbers would lose precision past 2^53.
#  - oneof=unions-value: oneofs become { $case, value } unions the compiler can check.
#  - useDate=false: Timestamp stays { seconds, nanos } and keeps its nanoseconds.
#  - no outputSchema: its descriptor.ts does not compile with protoc 36's descriptor.proto, so
#    the csi_secret fields are listed by hand in src/secret-fields.ts (a test keeps it in sync).
opts=(
  outputServices=grpc-js
  esModuleInterop=true
  env=node
  useOptionals=messages
  forceLong=bigint
  oneof=unions-value
  importSuffix=.js
  useDate=false
  outputTypeRegistry=false
)
opt_string=$(IFS=,; echo "${opts[*]}")

# Start from an empty directory so a message or file removed from the proto disappears here too.
rm -rf src/gen
mkdir -p src/gen

node "$protoc_dir/protoc.cjs" \
  --plugin=protoc-gen-ts_proto="$ts_proto_dir/protoc-gen-ts_proto" \
  --ts_proto_out=src/gen \
  --ts_proto_opt="$opt_string" \
  -I proto \
  -I "$protoc_dir/include" \
  proto/csi.proto

echo "generated: $(cd src/gen && find . -name '*.ts' | sort | tr '\n' ' ')"
