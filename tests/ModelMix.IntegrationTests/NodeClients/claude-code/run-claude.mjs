// Runs the pinned Claude Code CLI (@anthropic-ai/claude-code) once against the ModelMix proxy, non-interactively, and
// prints one JSON line for the test to check: { exitCode, signal, timedOut, elapsedMs, stdout, stderr, output }, where
// output is Claude Code's own `--output-format json` result (null when stdout is not JSON).
// Usage: node run-claude.mjs <proxy base URL> <working directory> <timeout seconds> [claude arguments...]
//
// Claude Code gets a clean environment (nothing inherited but PATH and the shell) and a throwaway HOME, so the
// machine's own Claude Code login, settings, ANTHROPIC_* variables and HTTP(S)_PROXY never apply, and
// CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 (with the narrower DISABLE_* switches) keeps it off every host but
// the proxy: without it, it resolves api.anthropic.com (event logging) and sends HEAD /api/hello to the base URL.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const [baseUrl, workDir, timeoutSeconds, ...claudeArgs] = process.argv.slice(2);
if (!baseUrl || !workDir || !timeoutSeconds) {
  console.error("usage: node run-claude.mjs <proxy base URL> <working directory> <timeout seconds> [claude arguments...]");
  process.exit(2);
}

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "node_modules", "@anthropic-ai", "claude-code");
// The package's postinstall copies the native binary over bin/claude.exe; where install scripts did not run, that
// file is a small stub and the package's cli-wrapper.cjs finds the platform package's binary instead.
const native = join(pkg, "bin", "claude.exe");
let command, args;
try {
  if (statSync(native).size > 1024 * 1024) {
    [command, args] = [native, claudeArgs];
  } else {
    [command, args] = [process.execPath, [join(pkg, "cli-wrapper.cjs"), ...claudeArgs]];
  }
} catch {
  console.error(`Claude Code is not installed in ${here} (run \`npm ci\` there).`);
  process.exit(3);
}

const home = mkdtempSync(join(tmpdir(), "modelmix-claude-home-"));
const env = {
  PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
  SHELL: "/bin/bash",
  HOME: home,
  TMPDIR: process.env.TMPDIR ?? tmpdir(),
  LANG: "C.UTF-8",
  NO_PROXY: "127.0.0.1,localhost",
  ANTHROPIC_BASE_URL: baseUrl,
  ANTHROPIC_API_KEY: "client-key-for-the-proxy",
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  DISABLE_AUTOUPDATER: "1",
  DISABLE_TELEMETRY: "1",
  DISABLE_ERROR_REPORTING: "1",
  CLAUDE_CODE_DISABLE_TERMINAL_TITLE: "1",
};

const started = Date.now();
const child = spawn(command, args, { cwd: workDir, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
let stdout = "";
let stderr = "";
child.stdout.setEncoding("utf8").on("data", (chunk) => (stdout += chunk));
child.stderr.setEncoding("utf8").on("data", (chunk) => (stderr += chunk));
let timedOut = false;
const timer = setTimeout(() => {
  timedOut = true;
  try {
    process.kill(-child.pid, "SIGKILL"); // the whole process group: Claude Code and any shell its tools started
  } catch {}
}, Number(timeoutSeconds) * 1000);

const [exitCode, signal, spawnError] = await new Promise((resolve) => {
  child.on("error", (error) => resolve([null, null, String(error)]));
  child.on("close", (code, sig) => resolve([code, sig, null]));
});
clearTimeout(timer);
rmSync(home, { recursive: true, force: true });

let output = null;
try {
  output = JSON.parse(stdout);
} catch {}
console.log(JSON.stringify({ exitCode, signal, timedOut, spawnError, elapsedMs: Date.now() - started, stdout, stderr, output }));
