#!/usr/bin/env bash
# Mutation testing (Stryker.NET, the dotnet-stryker local tool in .config/dotnet-tools.json) of the code where a silent
# bug costs money or safety. Not part of CI: a run takes from minutes (keys) to an hour or more (the proxy's areas,
# whose tests start real proxies) on the 2-core machine. Scores and the surviving mutants are in docs/testing.md.
#
#   bench/mutation.sh                 # every area, one after the other
#   bench/mutation.sh pricing keys    # some areas
#   bench/mutation.sh --list          # the areas and what each mutates
#
# Concurrency: MODELMIX_MUTATION_CONCURRENCY test runners at once (default 2, the machine's cores).
#
# Each area mutates a few files (globs, or a line span of a file the area shares with other code) and runs only the
# tests that exercise them (a test-case filter), Debug build (so a Release build being tested beside it is untouched).
# Reports: bench/mutation/out/<area>/reports/mutation-report.{json,html}; a summary line per area at the end.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/bench/mutation/out"
CONFIG="$ROOT/bench/mutation/stryker-config.json"

# area | project to mutate | test project (under tests/) | mutate globs (comma-separated) | test-case filter
AREAS=(
  "pricing|ModelMix.csproj|ModelMix.Tests|**/Pricing/PriceBook.cs,**/Pricing/CompiledPeriod.cs,**/Pricing/CompiledModel.cs,**/Pricing/RateSet.cs,**/Pricing/CostBreakdown.cs,**/Pricing/AnthropicUsage.cs|FullyQualifiedName~ModelMix.Tests.Pricing|FullyQualifiedName~ModelMix.Tests.Catalog"
  "budgets|ModelMix.csproj|ModelMix.Tests|**/Budgets/**/*.cs|FullyQualifiedName~ModelMix.Tests.Budgets&FullyQualifiedName!~Postgres"
  "keys|ModelMix.csproj|ModelMix.Tests|**/Keys/**/*.cs|FullyQualifiedName~ModelMix.Tests.Keys&FullyQualifiedName!~Postgres"
  "ledger|ModelMix.csproj|ModelMix.Tests|**/Ledger/BufferedLedger.cs,**/Ledger/SqliteLedgerStore.cs,**/Ledger/AttemptRecorder.cs|FullyQualifiedName~ModelMix.Tests.Ledger|FullyQualifiedName~ModelMix.Tests.Pipeline.LedgerChatClientTests"
  "fallback|ModelMix.csproj|ModelMix.Tests|**/Pipeline/FallbackChatClient.cs,**/Pipeline/FallbackRetryAfterHandler.cs|FullyQualifiedName~ModelMix.Tests.Pipeline.FallbackChatClientTests"
  "proxy-retry|ModelMix.Server.csproj|ModelMix.IntegrationTests|**/ProxyFallback.cs,**/MessagesForwarder.cs{86..101}{485..540}|FullyQualifiedName~ProxyRetryAfterTests|FullyQualifiedName~ProxyFallbackTests|FullyQualifiedName~ProxyForwardingTests"
  "sse-usage|ModelMix.Server.csproj|ModelMix.IntegrationTests|**/SseUsageTap.cs|FullyQualifiedName~SseUsageTapTests|FullyQualifiedName~ProxyForwardingTests"
)

if [[ "${1:-}" == "--list" ]]; then
  for entry in "${AREAS[@]}"; do
    IFS='|' read -r area project tests mutate _ <<<"$entry"
    echo "$area: $project ($mutate), tests in tests/$tests"
  done
  exit 0
fi

cd "$ROOT"
dotnet tool restore >/dev/null
wanted=("$@")
summary=()
for entry in "${AREAS[@]}"; do
  IFS='|' read -r area project tests mutate filter <<<"$entry"
  filter="${entry#*|*|*|*|}" # the filter may contain '|' itself
  if [[ ${#wanted[@]} -gt 0 && ! " ${wanted[*]} " =~ " $area " ]]; then
    continue
  fi

  args=()
  IFS=',' read -ra globs <<<"$mutate"
  for glob in "${globs[@]}"; do
    args+=(--mutate "$glob")
  done

  echo "== mutation testing: $area ($mutate)"
  rm -rf "$OUT/$area"
  started=$SECONDS
  (cd "tests/$tests" && dotnet dotnet-stryker --config-file "$CONFIG" --project "$project" "${args[@]}" \
    --test-case-filter "$filter" --output "$OUT/$area" --concurrency "${MODELMIX_MUTATION_CONCURRENCY:-2}" --skip-version-check) | tee "$OUT.$area.log" || true
  report="$OUT/$area/reports/mutation-report.json"
  if [[ -f "$report" ]]; then
    score=$(python3 - "$report" <<'PY'
import json, sys
files = json.load(open(sys.argv[1]))["files"]
counts = {}
for f in files.values():
    for m in f["mutants"]:
        counts[m["status"]] = counts.get(m["status"], 0) + 1
killed = counts.get("Killed", 0) + counts.get("Timeout", 0)
survived = counts.get("Survived", 0) + counts.get("NoCoverage", 0)
score = 100.0 * killed / (killed + survived) if killed + survived else 0.0
print(f"{score:.1f}% ({killed} killed or timed out, {counts.get('Survived', 0)} survived, {counts.get('NoCoverage', 0)} not covered, "
      f"{counts.get('CompileError', 0)} compile errors, {counts.get('Ignored', 0)} ignored)")
PY
)
    summary+=("$area: $score, $((SECONDS - started)) s")
  else
    summary+=("$area: no report (see $OUT.$area.log)")
  fi
done

echo
printf '%s\n' "${summary[@]}"
