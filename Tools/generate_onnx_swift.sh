#!/usr/bin/env bash
# Regenerates Sources/ONNXExport/Generated/onnx.pb.swift from onnx.proto with protoc and
# swift-protobuf's protoc-gen-swift (the version Package.swift depends on). Run by hand when
# the ONNX schema or swift-protobuf changes, then commit the result: building the plugin takes
# minutes, so CI and users never run this.
#
#   bash Tools/generate_onnx_swift.sh [ONNX_PROTO]
#
# ONNX_PROTO defaults to the committed copy (onnx.proto of the PyPI wheel onnx 1.23.2,
# Apache-2.0, LICENSE-onnx.txt beside it; `pip download --no-deps onnx==1.23.2` and unzip the
# wheel for another copy).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
generated=$root/Sources/ONNXExport/Generated
proto=${1:-$generated/onnx.proto}
swift_protobuf_version=1.39.0
command -v protoc >/dev/null || apt-get install -y -qq protobuf-compiler
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q --depth 1 --branch "$swift_protobuf_version" https://github.com/apple/swift-protobuf "$work/swift-protobuf"
(cd "$work/swift-protobuf" && swift build --product protoc-gen-swift 2>&1 | tail -1)
cp "$proto" "$work/onnx.proto"
mkdir -p "$work/out"
(cd "$work" && protoc --plugin=protoc-gen-swift="$work/swift-protobuf/.build/debug/protoc-gen-swift" \
    --swift_out="$work/out" --swift_opt=Visibility=Internal onnx.proto)
cp "$work/out/onnx.pb.swift" "$generated/onnx.pb.swift"
[ "$proto" = "$generated/onnx.proto" ] || cp "$proto" "$generated/onnx.proto"
echo "wrote $generated/onnx.pb.swift"
