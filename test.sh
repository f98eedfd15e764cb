#!/usr/bin/env bash
# Runs every test: the README's test command, and what CI runs (.ci/run calls this script).
#
# First it installs whatever the tests need and the machine lacks, then runs `dotnet test ModelMix.slnx -c Release`
# (extra arguments are passed on, e.g. ./test.sh --filter "FullyQualifiedName~Savings"). Each step checks first and
# does nothing when its part is already there, so a second run prints nothing of its own:
#   - ../shared (or $MODELMIX_SHARED): the shared fixtures and datasets folder beside the checkout. It is not
#     installed: without it the script stops and says so.
#   - the .NET 10 SDK: not installed either (https://dot.net); the script stops and says so.
#   - Debian packages (apt-get, as root or through sudo): nodejs and npm (the Node.js client tests), chromium (the
#     dashboard's browser test drives /usr/bin/chromium), postgresql (the binaries only: the tests start their own
#     throwaway cluster on loopback; skipped when MODELMIX_TEST_POSTGRES names a server), curl (the README's request),
#     clang and zlib1g-dev (the NativeAOT publish of samples/AotApp).
#   - the local .NET tools (`dotnet tool restore`, .config/dotnet-tools.json), when dotnet-stack is not restored.
#   - the npm clients of the Node.js tests (`npm ci` from each package-lock.json), when node_modules is missing or
#     older than its lock file.
set -euo pipefail
cd "$(dirname "$0")"

say() { echo "test.sh: $*" >&2; }

shared="${MODELMIX_SHARED:-../shared}"
if [ ! -d "$shared/fixtures/anthropic" ] || [ ! -d "$shared/data" ]; then
  say "the shared fixtures and datasets are missing: no $shared/fixtures/anthropic or $shared/data."
  say "ModelMix's tests read them from ../shared, the folder beside this checkout that the ModelMix workspace provides"
  say "(see ../shared/DESIGN.md and ../shared/data/README.md); put it there, or set MODELMIX_SHARED=/path/to/shared."
  exit 1
fi

if ! command -v dotnet >/dev/null 2>&1 || ! dotnet --list-sdks 2>/dev/null | grep -q '^10\.'; then
  say "the .NET 10 SDK is missing (dotnet --list-sdks shows no 10.x); install it from https://dot.net, then run ./test.sh again."
  exit 1
fi

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ -z "${MODELMIX_TEST_POSTGRES:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v clang >/dev/null 2>&1 || missing+=(clang)            # NativeAOT's linker driver (samples/AotApp)
[ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)              # NativeAOT links zlib

if [ -n "${MODELMIX_SETUP_CHECK_ONLY:-}" ]; then
  # Used by tests/ModelMix.IntegrationTests/Cli/ReadmeTests.cs: report what would be installed, install nothing.
  if [ ${#missing[@]} -gt 0 ]; then
    say "missing: ${missing[*]}"
    exit 1
  fi
  exit 0
fi

if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    say "missing: ${missing[*]}. This script installs them with apt-get (Debian, Ubuntu); install them another way, then run it again."
    exit 1
  fi

  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      say "missing: ${missing[*]}; installing them needs root: run 'apt-get install -y ${missing[*]}' as root, then ./test.sh again."
      exit 1
    fi
    sudo=(sudo)
  fi

  say "installing ${missing[*]} (apt-get; once)"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The repository's local .NET tools (.config/dotnet-tools.json): dotnet-stack reads the managed stacks of a `modelmix
# serve` that does not exit after SIGTERM, for its test's failure message (tests/ModelMix.IntegrationTests/Cli/ServeProcess.cs).
# Not fatal: without it that message says the stacks could not be read.
if ! dotnet tool run dotnet-stack --version >/dev/null 2>&1; then
  say "restoring the local .NET tools (dotnet tool restore; once)"
  dotnet tool restore >/dev/null || say "dotnet tool restore failed: a serve test that hangs on stop will not show its stacks"
fi

for lock in tests/ModelMix.IntegrationTests/NodeClients/*/package-lock.json tests/ModelMix.IntegrationTests/OpenAi/node/package-lock.json; do
  dir=$(dirname "$lock")
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$lock" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "installing the npm clients in $dir (npm ci)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
done

exec dotnet test ModelMix.slnx -c Release "$@"
