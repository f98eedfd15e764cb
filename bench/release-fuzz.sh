#!/usr/bin/env bash
# Release-size fuzz run: 100,000 generated hostile bodies per in-process property (Messages parser, body rewriter,
# OpenAI translator) and 10,000 per endpoint over HTTP against a real proxy (CI runs 3,000 and 300).
# A failure prints its seed; replay it with MODELMIX_FUZZ_SEED=<seed> bench/release-fuzz.sh.
#   bench/release-fuzz.sh [iterations]    # default 100000
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODELMIX_FUZZ_ITERATIONS="${1:-100000}" exec dotnet test "$ROOT/tests/ModelMix.IntegrationTests" -c Release --filter "FullyQualifiedName~.Fuzz."
