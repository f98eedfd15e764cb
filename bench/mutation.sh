#!/usr/bin/env bash
# Mutation testing (Stryker.NET, the dotnet-stryker local tool in .config/dotnet-tools.json) of the code where a silent
# bug costs money or safety. Not part of CI: a run takes from minutes (keys) to an hour or more (the proxy's areas,
# whose tests start real proxies) on the 2-core machine. Scores and the surviving mutants are in docs/testing.md.
#
#   bench/mutation.sh                 # every area, one after the other
#   bench/mutation.sh pricing keys    # some areas
#   bench/mutation.sh --list          # the areas and what each mutates
#
# Concurrency: MODELMIX_MUTATION_CONCURRENCY test runners at once (default 1: the 2-core machine is shared). The run is
# niced (MODELMIX_MUTATION_NICE, default 10) so builds and tests beside it keep their share.
# Narrowing one area (a rerun after new tests, or an area split to fit a slot): MODELMIX_MUTATION_MUTATE replaces its
# mutate globs (comma-separated), MODELMIX_MUTATION_FILTER its test-case filter and MODELMIX_MUTATION_TESTS its test
# projects (e.g. ModelMix.Tests alone: no Debug build of the integration tests); the report goes to out/<area>
# as usual, so say in docs/testing.md what a recorded score was narrowed to. MODELMIX_MUTATION_COVERAGE overrides the
# config's coverage analysis (`all`; `perTest` is faster where no code under test runs only in a static initializer).
# The summary also gives the score per mutated file, so one run over two areas' files scores both.
#
# Each area mutates a few files (globs, or line spans of a file the area shares with other code) of one project
# (Stryker mutates one project per run, so the SQLite stores in src/ModelMix.Sqlite are areas of their own:
# budgets-sqlite, keys-sqlite, ledger-sqlite) and runs only the
# tests that exercise them (a test-case filter), Debug build (so a Release build being tested beside it is untouched).
# Reports: bench/mutation/out/<area>/reports/mutation-report.{json,html}; a summary line per area at the end.
#
# Line spans: `**/File.cs#L66-L84#L98-L186` mutates only those lines (whole lines, both ends included). Stryker's own
# span syntax, `File.cs{a..b}`, counts *characters* from the start of the file (Roslyn text positions), not lines, and
# keeps a mutant only if its whole node lies inside a span; the script turns each line span into the character offsets
# of those lines in the file as it is now (`--list` prints the first and last line of each). Check the line numbers
# when the file changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/bench/mutation/out"
CONFIG="$ROOT/bench/mutation/stryker-config.json"

# area | project to mutate (under src/) | test projects (under tests/, comma-separated) | mutate globs (comma-separated) | test-case filter
AREAS=(
  "pricing|ModelMix.csproj|ModelMix.Tests|**/Pricing/PriceBook.cs,**/Pricing/CompiledPeriod.cs,**/Pricing/CompiledModel.cs,**/Pricing/RateSet.cs,**/Pricing/CostBreakdown.cs,**/Pricing/AnthropicUsage.cs|FullyQualifiedName~ModelMix.Tests.Pricing|FullyQualifiedName~ModelMix.Tests.Catalog"
  "budgets|ModelMix.csproj|ModelMix.Tests|**/Budgets/**/*.cs|(FullyQualifiedName~ModelMix.Tests.Budgets&FullyQualifiedName!~Postgres)|FullyQualifiedName~PostgresBudgetSettleLockTests"
  "budgets-sqlite|ModelMix.Sqlite.csproj|ModelMix.Tests|**/SqliteBudgetStore*.cs|FullyQualifiedName~ModelMix.Tests.Budgets&FullyQualifiedName!~Postgres"
  "keys|ModelMix.csproj|ModelMix.Tests|**/Keys/**/*.cs|FullyQualifiedName~ModelMix.Tests.Keys&FullyQualifiedName!~Postgres"
  "keys-sqlite|ModelMix.Sqlite.csproj|ModelMix.Tests|**/SqliteKeyStore.cs|FullyQualifiedName~ModelMix.Tests.Keys&FullyQualifiedName!~Postgres"
  "ledger|ModelMix.csproj|ModelMix.Tests|**/Ledger/BufferedLedger.cs,**/Ledger/AttemptRecorder.cs|(FullyQualifiedName~ModelMix.Tests.Ledger|FullyQualifiedName~ModelMix.Tests.Pipeline.LedgerChatClientTests)&FullyQualifiedName!~Postgres"
  "ledger-sqlite|ModelMix.Sqlite.csproj|ModelMix.Tests|**/SqliteLedgerStore.cs|(FullyQualifiedName~ModelMix.Tests.Ledger.SqliteLedger|FullyQualifiedName~ModelMix.Tests.Ledger.SqliteTableIntentCompletionTests|FullyQualifiedName~ModelMix.Tests.Ledger.IntentHotPathTests|FullyQualifiedName~ModelMix.Tests.Ledger.LedgerExportPruneTests|FullyQualifiedName~ModelMix.Tests.Budgets.SqliteBudgetStore)&FullyQualifiedName!~Postgres"
  "fallback|ModelMix.csproj|ModelMix.Tests,ModelMix.IntegrationTests|**/FallbackChatClient.cs,**/FallbackRetryAfterHandler.cs,**/Fallback/FallbackChain.cs|FullyQualifiedName~ModelMix.Tests.Pipeline.Fallback|FullyQualifiedName~ModelMix.Tests.Fallback|FullyQualifiedName~RoutingFallbackPipelineTests"
  "proxy-retry|ModelMix.Server.csproj|ModelMix.IntegrationTests,ModelMix.Server.Tests|**/ProxyFallback.cs,**/FallbackSender.cs,**/UpstreamSender.cs#L66-L85#L99-L191#L505-L510|FullyQualifiedName~ProxyRetryAfter|FullyQualifiedName~ProxyFallbackTests|FullyQualifiedName~ProxyFallbackGapTests|FullyQualifiedName~ProxyRetrySurvivorTests|FullyQualifiedName~ProxyForwardingTests.Rate_limit|FullyQualifiedName~ProxyForwardingTests.Persistent_overload|FullyQualifiedName~ProxyForwardingTests.Invalid_request|FullyQualifiedName~ProxyForwardingTests.Malformed_upstream|FullyQualifiedName~ProxyForwardingTests.Answer_cut_short|FullyQualifiedName~UpstreamDownTests|FullyQualifiedName~ClientHangupTests.A_request_whose_client_left_during_a_failed_attempt|FullyQualifiedName~ModelMix.Server.Tests.UpstreamSender"
  "sse-usage|ModelMix.Server.csproj|ModelMix.IntegrationTests|**/SseUsageTap.cs,**/SseEventReader.cs|FullyQualifiedName~SseUsageTap|FullyQualifiedName~ProxyForwardingTests.Stream_"
)

# Prints a mutate glob as Stryker takes it: line spans (`#L<first>-L<last>`, see above) become character spans of the
# one file under $1 the glob names; with a third argument, each span's first and last line go to stderr.
stryker_glob() {
  python3 - "$@" <<'PY'
import fnmatch, os, sys
project, glob, show = sys.argv[1], sys.argv[2], len(sys.argv) > 3
path_glob, *spans = glob.split("#L")
if not spans:
    print(glob)
    sys.exit(0)
files = [os.path.join(d, f) for d, dirs, names in os.walk(project) for f in names
         if fnmatch.fnmatch(f, os.path.basename(path_glob)) and not {"bin", "obj"} & set(d.split(os.sep))]
if len(files) != 1:
    sys.exit(f"{glob}: line spans need exactly one file under {project}, found {len(files)}")
# Roslyn's positions are UTF-16 code units of the text as read (a byte-order mark dropped, line ends kept).
lines = open(files[0], encoding="utf-8-sig", newline="").read().splitlines(keepends=True)
starts = [0]
for line in lines:
    starts.append(starts[-1] + len(line.encode("utf-16-le")) // 2)
out = path_glob
for span in spans:
    first, last = (int(n) for n in span.split("-L"))
    if not 1 <= first <= last <= len(lines):
        sys.exit(f"{glob}: lines {first}-{last} are not in {files[0]} ({len(lines)} lines)")
    body = lines[last - 1].rstrip("\r\n")
    out += "{%d..%d}" % (starts[first - 1], starts[last - 1] + len(body.encode("utf-16-le")) // 2)
    if show:
        print(f"    lines {first}-{last}: {lines[first - 1].strip()[:60]!r} ... {body.strip()[:60]!r}", file=sys.stderr)
print(out)
PY
}

if [[ "${1:-}" == "--list" ]]; then
  for entry in "${AREAS[@]}"; do
    IFS='|' read -r area project tests mutate _ <<<"$entry"
    filter="${entry#*|*|*|*|}"
    echo "$area: $project ($mutate), tests in tests/{$tests} matching $filter"
    projectDir="$(dirname "$(find "$ROOT/src" -name "$project" -print -quit)")"
    IFS=',' read -ra globs <<<"$mutate"
    for glob in "${globs[@]}"; do
      if [[ "$glob" == *"#L"* ]]; then
        echo "  $glob -> $(stryker_glob "$projectDir" "$glob" --show)"
      fi
    done
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
  mutate="${MODELMIX_MUTATION_MUTATE:-$mutate}"
  filter="${MODELMIX_MUTATION_FILTER:-$filter}"
  tests="${MODELMIX_MUTATION_TESTS:-$tests}"

  projectDir="$(dirname "$(find "$ROOT/src" -name "$project" -print -quit)")"
  args=()
  IFS=',' read -ra globs <<<"$mutate"
  for glob in "${globs[@]}"; do
    mglob="$(stryker_glob "$projectDir" "$glob")"
    args+=(--mutate "$mglob")
  done

  IFS=',' read -ra testProjects <<<"$tests"
  for test in "${testProjects[@]}"; do
    args+=(--test-project "$ROOT/tests/$test/$test.csproj")
  done

  echo "== mutation testing: $area ($mutate; tests: $filter)"
  rm -rf "$OUT/$area"
  started=$SECONDS
  config="$CONFIG"
  if [[ -n "${MODELMIX_MUTATION_COVERAGE:-}" ]]; then
    # The command line has no coverage-analysis option: a copy of the config with it replaced.
    config="$OUT/stryker-config.$area.json"
    mkdir -p "$OUT"
    python3 - "$CONFIG" "$config" "$MODELMIX_MUTATION_COVERAGE" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["stryker-config"]["coverage-analysis"] = sys.argv[3]
json.dump(config, open(sys.argv[2], "w"), indent=2)
PY
  fi
  (cd "$projectDir" && nice -n "${MODELMIX_MUTATION_NICE:-10}" dotnet dotnet-stryker --config-file "$config" "${args[@]}" \
    --test-case-filter "$filter" --output "$OUT/$area" --concurrency "${MODELMIX_MUTATION_CONCURRENCY:-1}" \
    --skip-version-check) | tee "$OUT.$area.log" || true
  report="$OUT/$area/reports/mutation-report.json"
  if [[ -f "$report" ]]; then
    score=$(python3 - "$report" <<'PY'
import json, os, sys
files = json.load(open(sys.argv[1]))["files"]

def line(counts):
    killed = counts.get("Killed", 0) + counts.get("Timeout", 0)
    survived = counts.get("Survived", 0) + counts.get("NoCoverage", 0)
    score = 100.0 * killed / (killed + survived) if killed + survived else 0.0
    return (f"{score:.1f}% ({killed} killed or timed out, {counts.get('Survived', 0)} survived, {counts.get('NoCoverage', 0)} not covered, "
            f"{counts.get('CompileError', 0)} compile errors, {counts.get('Ignored', 0)} ignored)")

total, per_file = {}, []
for name, f in sorted(files.items()):
    counts = {}
    for m in f["mutants"]:
        counts[m["status"]] = counts.get(m["status"], 0) + 1
        total[m["status"]] = total.get(m["status"], 0) + 1
    if counts.get("Killed", 0) + counts.get("Timeout", 0) + counts.get("Survived", 0) + counts.get("NoCoverage", 0):
        per_file.append(f"    {os.path.basename(name)}: {line(counts)}")
print(line(total))
print("\n".join(per_file))
PY
)
    summary+=("$area: $score, $((SECONDS - started)) s")
    # Stryker's safe mode: a mutant that breaks the build in a way it cannot pin to that mutant makes it drop every
    # mutant of the method as a compile error (uncounted); name such methods of the area's files (docs/testing.md).
    dropped=$(python3 - "$report" "$OUT.$area.log" <<'PY'
import json, re, sys
files = json.load(open(sys.argv[1]))["files"]
mutated = {name for name, f in files.items()
           if any(m["status"] in ("Killed", "Timeout", "Survived", "NoCoverage") for m in f["mutants"])}
path = None
for text in open(sys.argv[2], errors="replace"):
    found = re.search(r"An unidentified mutation in (\S+) resulted in a compile error", text)
    if found:
        path = found.group(1)
        continue
    safe = re.search(r"Safe Mode! Stryker will remove all mutations in (\S+)", text)
    if safe and path and any(path.endswith(name) or name.endswith(path) for name in mutated):
        print(f"    safe mode dropped every mutant of {path.rsplit('/', 1)[-1]}: {safe.group(1)} (uncounted; see docs/testing.md)")
    path = None if safe else path
PY
)
    [[ -n "$dropped" ]] && summary+=("$dropped")
  else
    summary+=("$area: no report (see $OUT.$area.log)")
  fi
done

echo
printf '%s\n' "${summary[@]}"
