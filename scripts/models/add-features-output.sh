#!/usr/bin/env bash
# Gives every bundled ONNX model its embedding (the pooled activations before the classifier) as a second graph output,
# for classify --features (issue 32), and updates the sha256 in model.json and models/SHA256SUMS. The edit appends one
# graph output (and, where no pooled tensor exists, one node) to the protobuf; nothing else in the file changes, so the
# classification output is byte for byte what it was (the tests that pin exact scores check it). Idempotent.
# Needs the .NET SDK (a file-based app: scripts/models/AddFeaturesOutput.cs, the editor in src/Classify.Backends.Onnx/Graph).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
dotnet run --file scripts/models/AddFeaturesOutput.cs -- "$root/models"
