// The published TypeScript Evolu relay (@evolu/nodejs 3.0.0-next.3 with
// @evolu/common 8.0.0-next.5), started the way the C relay is started so the
// interop tests treat both alike:
//
//   node ts-relay.mjs [--port PORT] [--dir DIR] [--quota BYTES] [--log-level L]
//
// - binds 127.0.0.1 only (startRelay listens on every interface; we pass a
//   host to http.Server#listen),
// - `--port 0` (the default) picks a free port; when ready it prints exactly
//   one line on stdout: `listening on ws://127.0.0.1:PORT`; logs go to stderr,
// - stores in DIR/evolu-relay.db (the relay writes into the current folder),
// - SIGTERM / SIGINT: clean shutdown (close code 1000), exit 0,
// - isOwnerWithinQuota is provided (without it every write is refused with
//   errorCode 2): an owner may store up to --quota bytes (default 1 GB).
// Needs EVOLU_INTEROP_CACHE (scripts/interop-setup.sh) to find the packages.
import http from "node:http";
import { mkdirSync } from "node:fs";
import { pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const opt = { port: "0", dir: ".", quota: String(1024 * 1024 * 1024), "log-level": "warn" };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--help" || a === "-h") {
    console.log("usage: node ts-relay.mjs [--port PORT] [--dir DIR] [--quota BYTES] [--log-level debug|info|warn|error]");
    process.exit(0);
  }
  const key = a.replace(/^--/, "");
  if (!(key in opt) || i + 1 >= args.length) {
    console.error(`ts-relay: bad argument ${a}`);
    process.exit(2);
  }
  opt[key] = args[++i];
}
const port = Number(opt.port);
const quota = Number(opt.quota);
if (!Number.isInteger(port) || port < 0 || port > 65535 || !(quota > 0)) {
  console.error("ts-relay: bad --port or --quota");
  process.exit(2);
}

const cache = process.env.EVOLU_INTEROP_CACHE;
if (!cache) {
  console.error("ts-relay: EVOLU_INTEROP_CACHE is not set (run scripts/interop-setup.sh)");
  process.exit(2);
}
const { resolve } = await import(pathToFileURL(`${cache}/next5/resolve.mjs`).href);
await (await import(resolve("@evolu/common/polyfills"))).installPolyfills();
const common = await import(resolve("@evolu/common"));
const nodejs = await import(resolve("@evolu/nodejs"));

// stdout carries only the `listening on` line; everything the relay logs
// goes to stderr.
const stdoutWrite = (s) => process.stdout.write(s);
for (const m of ["log", "info", "debug", "warn", "trace"]) console[m] = console.error;

// Loopback only: give every listen() without a host the host 127.0.0.1.
let relayServer = null;
const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (...a) {
  relayServer = this;
  if (typeof a[0] === "number" || a[0] === undefined) {
    const cb = typeof a[a.length - 1] === "function" ? a.pop() : undefined;
    return listen.call(this, { port: a[0] ?? 0, host: "127.0.0.1" }, cb);
  }
  return listen.apply(this, a);
};

mkdirSync(opt.dir, { recursive: true });
process.chdir(opt.dir);

const console2 = common.createConsole({ level: opt["log-level"] });
const deps = { ...nodejs.createRelayDeps(), console: console2 };
const run = nodejs.createRun(deps);
const stack = new AsyncDisposableStack();
try {
  stack.use(
    await run.orThrow(
      nodejs.startRelay({
        port,
        isOwnerWithinQuota: (_ownerId, requiredBytes) => requiredBytes <= quota,
      }),
    ),
  );
} catch (e) {
  console.error("ts-relay: could not start:", e);
  process.exit(1);
}
const addr = relayServer && relayServer.address();
if (!addr || typeof addr === "string") {
  console.error("ts-relay: no TCP address");
  process.exit(1);
}
stdoutWrite(`listening on ws://127.0.0.1:${addr.port}\n`);

await run.deps.shutdown;
await stack.disposeAsync();
await run[Symbol.asyncDispose]();
process.exit(process.exitCode ?? 0);
