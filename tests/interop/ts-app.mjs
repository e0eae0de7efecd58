// A headless TypeScript Evolu app: createEvolu in Node, wired the way the
// published packages wire it on a platform without browser workers (the
// in-process workers and channels @evolu/common exports, Node 24's WebSocket,
// better-sqlite3). The interop tests drive it from the shell:
//
//   node ts-app.mjs --version next5|v11 --db DIR [--mnemonic "24 words"]
//                   [--relay URL] [--quiet-ms MS] [--timeout S] COMMAND ARGS... [COMMAND ARGS...]
//
// --version  next5: @evolu/common 8.0.0-next.5 (+ @evolu/nodejs 3.0.0-next.3);
//            v11: @evolu/common 8.11.0 with our own better-sqlite3 driver.
// --db DIR   the app's folder: its SQLite database and, when --mnemonic is
//            not given, DIR/mnemonic (created with a fresh owner on first use).
// --relay    ws://HOST:PORT (the app adds ?ownerId=...); without it, no sync.
// Commands run in order, in one process:
//   mnemonic                       print the owner's 24 words
//   owner-id                       print the OwnerId
//   insert TABLE JSON              insert a row; prints its id
//   update TABLE ID JSON           update columns of a row
//   delete TABLE ID                soft delete (isDeleted = 1)
//   insert-long TABLE COLUMN N CHAR
//                                  insert a row whose COLUMN is "a " + CHAR x (N-2)
//   bulk TABLE N PREFIX            insert N rows {title|t: PREFIX<i>, ...}
//   sync                           wait until synced with the relay (traffic
//                                  quiet for --quiet-ms after a reply)
//   rows TABLE                     print the table's rows, one JSON object per
//                                  line, as `evolu query` prints them for
//                                  SELECT_SQL (see below), ordered by id
//   wait-rows TABLE N [SECONDS]    wait (subscribed, no new sync) until the
//                                  table has N rows
//   wait-value TABLE ID COLUMN JSON [SECONDS]
//                                  wait (subscribed) until a cell has a value
//   watch SECONDS                  stay subscribed; print a line per changed
//                                  row: {"table":..,"row":{...}}
//   sleep SECONDS
//   echo TEXT                      print TEXT (a marker for the shell)
// JSON values: string -> text, number -> number, null, true/false -> 1/0,
// {"$bytes":"hex"} -> bytes; the same on output (evolu query's format).
// Exit: 0 ok, 1 failure (message on stderr), 2 usage.
import { mkdirSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { join, resolve as resolvePath } from "node:path";

// The schema every interop test uses; SELECT_SQL is what the C side runs.
export const TABLES = {
  todo: ["title", "isCompleted"],
  reading: ["value", "note"],
  item: ["t", "n", "b", "v"],
};
export const selectSql = (table) =>
  `select id, ${TABLES[table].join(", ")}, isDeleted from ${table} order by id`;

const die = (code, msg) => {
  process.stderr.write(`ts-app: ${msg}\n`);
  process.exit(code);
};

const argv = process.argv.slice(2);
const opt = { version: null, db: null, mnemonic: null, relay: null, "quiet-ms": "800", timeout: "60" };
let i = 0;
for (; i < argv.length && argv[i].startsWith("--"); i++) {
  const key = argv[i].slice(2);
  if (key === "help") {
    process.stdout.write(readFileSync(new URL(import.meta.url)).toString().split("\nimport")[0] + "\n");
    process.exit(0);
  }
  if (!(key in opt) || i + 1 >= argv.length) die(2, `bad option ${argv[i]}`);
  opt[key] = argv[++i];
}
const commands = argv.slice(i);
if (!["next5", "v11"].includes(opt.version)) die(2, "--version next5|v11 is required");
if (!opt.db) die(2, "--db DIR is required");
const quietMs = Number(opt["quiet-ms"]);
const timeoutMs = Number(opt.timeout) * 1000;

// Whole-process bound: never outlive the test.
const hardStop = setTimeout(() => die(1, `timed out after ${opt.timeout} s`), timeoutMs + 5000);
hardStop.unref();

const cache = process.env.EVOLU_INTEROP_CACHE;
if (!cache) die(2, "EVOLU_INTEROP_CACHE is not set (run scripts/interop-setup.sh)");
const { resolve } = await import(pathToFileURL(`${cache}/${opt.version}/resolve.mjs`).href);
const polyfills = await import(resolve("@evolu/common/polyfills"));
polyfills.installPolyfills();
const common = await import(resolve("@evolu/common"));
const lf = await import(resolve("@evolu/common/local-first"));
const BetterSqlite = (await import(resolve("better-sqlite3"))).default;

// Logs of the Evolu stack go to stderr; stdout carries only our output.
for (const m of ["log", "info", "debug", "warn", "trace"]) console[m] = console.error;
const out = (line) => process.stdout.write(line + "\n");

const dbDir = resolvePath(opt.db);
mkdirSync(dbDir, { recursive: true });
process.chdir(dbDir);

// ---------------------------------------------------------------- values
const hex = (u8) => Buffer.from(u8).toString("hex");
const toJsonValue = (v) => {
  if (v instanceof Uint8Array) return { $bytes: hex(v) };
  return v;
};
const fromJsonValue = (v) => {
  if (v === true) return 1;
  if (v === false) return 0;
  if (v !== null && typeof v === "object") {
    if (typeof v.$bytes === "string" && /^([0-9a-f]{2})*$/.test(v.$bytes))
      return new Uint8Array(Buffer.from(v.$bytes, "hex"));
    die(2, `unsupported JSON value ${JSON.stringify(v)}`);
  }
  return v;
};
const fromJsonObject = (text) => {
  let o;
  try {
    o = JSON.parse(text);
  } catch (e) {
    die(2, `bad JSON ${text}: ${e.message}`);
  }
  if (o === null || typeof o !== "object" || Array.isArray(o)) die(2, `not a JSON object: ${text}`);
  const r = {};
  for (const [k, v] of Object.entries(o)) r[k] = fromJsonValue(v);
  return r;
};
const rowLine = (row) => {
  const o = {};
  for (const [k, v] of Object.entries(row)) o[k] = toJsonValue(v);
  return JSON.stringify(o);
};

// ---------------------------------------------------------------- owner
let mnemonic = opt.mnemonic;
const mnemonicFile = join(dbDir, "mnemonic");
if (!mnemonic && existsSync(mnemonicFile)) mnemonic = readFileSync(mnemonicFile, "utf8").trim();
let secret;
if (mnemonic) {
  secret = lf.mnemonicToOwnerSecret(common.Mnemonic.orThrow(mnemonic));
} else {
  secret = lf.createOwnerSecret({ randomBytes: common.createRandomBytes() });
  mnemonic = lf.ownerSecretToMnemonic(secret);
}
if (!existsSync(mnemonicFile)) writeFileSync(mnemonicFile, mnemonic + "\n");
const appOwner = lf.createAppOwner(secret);

// ---------------------------------------------------------------- traffic
// Relay traffic, observed to know when sync is quiet (8.0.0-next.5 has no
// sync status): a subclass of the WebSocket the transport would use anyway.
const traffic = { opened: 0, sent: 0, received: 0, last: 0, open: false };
const NativeWebSocket = globalThis.WebSocket;
class TrackedWebSocket extends NativeWebSocket {
  constructor(...a) {
    super(...a);
    this.addEventListener("open", () => {
      traffic.opened++;
      traffic.open = true;
      traffic.last = Date.now();
    });
    this.addEventListener("close", () => {
      traffic.open = false;
    });
    this.addEventListener("message", () => {
      traffic.received++;
      traffic.last = Date.now();
    });
  }
  send(data) {
    traffic.sent++;
    traffic.last = Date.now();
    return super.send(data);
  }
}
const createWebSocket = (url, options) =>
  common.createWebSocket(url, { ...options, WebSocketConstructor: TrackedWebSocket });

// ---------------------------------------------------------------- schema
const anyValue = common.nullOr(common.SqliteValue);
const Schema = {
  todo: { id: common.id("Todo"), title: anyValue, isCompleted: anyValue },
  reading: { id: common.id("Reading"), value: anyValue, note: anyValue },
  item: { id: common.id("Item"), t: anyValue, n: anyValue, b: anyValue, v: anyValue },
};

const transports = opt.relay
  ? [lf.createOwnerWebSocketTransport({ url: opt.relay, ownerId: appOwner.id })]
  : [];

const { evolu, evoluError, shutdown } = await (opt.version === "next5"
  ? (await import("./ts-app-next5.mjs")).start({ common, lf, nodejs: await import(resolve("@evolu/nodejs")), Schema, appOwner, transports, createWebSocket })
  : (await import("./ts-app-v11.mjs")).start({ common, lf, BetterSqlite, Schema, appOwner, transports, createWebSocket }));

const createQuery = lf.createQueryBuilder(Schema);
const queries = {};
const tableQuery = (table) =>
  (queries[table] ??= createQuery((db) =>
    db.selectFrom(table).select(["id", ...TABLES[table], "isDeleted"]).orderBy("id"),
  ));
const checkTable = (table) => {
  if (!(table in TABLES)) die(2, `unknown table ${table} (known: ${Object.keys(TABLES).join(", ")})`);
};

const failOnError = () => {
  const e = evoluError.get();
  if (e) die(1, `Evolu error: ${JSON.stringify(e, (_k, v) => (typeof v === "bigint" ? String(v) : v))}`);
};

const pending = [];
const mutate = (kind, table, values) => {
  const done = Promise.withResolvers();
  pending.push(done.promise);
  const r = evolu[kind](table, values, { onComplete: () => done.resolve() });
  if (r && "ok" in r && !r.ok) die(1, `${kind} failed: ${JSON.stringify(r.error)}`);
  return r && "ok" in r ? r.value.id : r.id;
};
const settle = async () => {
  await Promise.all(pending.splice(0));
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const deadline = Date.now() + timeoutMs;
// Synced: the relay traffic has been quiet for --quiet-ms after a reply, and
// a query issued then (it queues behind every received change the DbWorker
// still applies) returns without new traffic meanwhile - received changes
// are applied and answered.
let probe = 0;
const waitSynced = async () => {
  if (!opt.relay) die(2, "sync needs --relay");
  await settle();
  for (;;) {
    failOnError();
    const now = Date.now();
    if (now > deadline) die(1, `not synced within ${opt.timeout} s (sent ${traffic.sent}, received ${traffic.received})`);
    if (traffic.open && traffic.received > 0 && now - traffic.last >= quietMs) {
      const before = traffic.sent + traffic.received;
      const k = `probe-${probe++}`;
      await evolu.loadQuery(createQuery((db) => db.selectFrom("todo").select("id").where("id", "=", k)));
      if (traffic.sent + traffic.received === before && Date.now() - traffic.last >= quietMs) return;
      continue;
    }
    await sleep(50);
  }
};

const waitRows = async (table, pred, seconds) => {
  const q = tableQuery(table);
  const until = Math.min(deadline, Date.now() + seconds * 1000);
  const done = Promise.withResolvers();
  const check = () => {
    if (pred(evolu.getQueryRows(q))) done.resolve(true);
  };
  const unsubscribe = evolu.subscribeQuery(q)(check);
  await evolu.loadQuery(q);
  check();
  const timer = setTimeout(() => done.resolve(false), Math.max(0, until - Date.now()));
  const ok = await done.promise;
  clearTimeout(timer);
  unsubscribe();
  return ok;
};

const sameValue = (a, b) => JSON.stringify(toJsonValue(a)) === JSON.stringify(toJsonValue(b));

let code = 0;
try {
  for (let c = 0; c < commands.length; ) {
    const cmd = commands[c++];
    const arg = () => {
      if (c >= commands.length) die(2, `${cmd}: missing argument`);
      return commands[c++];
    };
    switch (cmd) {
      case "mnemonic":
        out(mnemonic);
        break;
      case "owner-id":
        out(appOwner.id);
        break;
      case "insert": {
        const table = arg();
        checkTable(table);
        out(mutate("insert", table, fromJsonObject(arg())));
        break;
      }
      case "update": {
        const table = arg();
        checkTable(table);
        const id = arg();
        mutate("update", table, { ...fromJsonObject(arg()), id });
        break;
      }
      case "delete": {
        const table = arg();
        checkTable(table);
        mutate("update", table, { id: arg(), isDeleted: 1 });
        break;
      }
      case "insert-long": {
        // a text too long for a command line: "a " then N-2 copies of CHAR
        // (the space keeps it out of the shorter Base64Url encoding)
        const table = arg();
        checkTable(table);
        const col = arg();
        const n = Number(arg());
        const ch = arg();
        if (!Number.isInteger(n) || n < 2 || ch.length !== 1) die(2, "insert-long TABLE COLUMN N CHAR");
        out(mutate("insert", table, { [col]: "a " + ch.repeat(n - 2) }));
        break;
      }
      case "bulk": {
        const table = arg();
        checkTable(table);
        const n = Number(arg());
        const prefix = arg();
        const col = TABLES[table][0];
        for (let k = 0; k < n; k++) mutate("insert", table, { [col]: `${prefix}${k}` });
        break;
      }
      case "sync":
        await waitSynced();
        break;
      case "rows": {
        const table = arg();
        checkTable(table);
        await settle();
        for (const row of await evolu.loadQuery(tableQuery(table))) out(rowLine(row));
        break;
      }
      case "wait-rows": {
        const table = arg();
        checkTable(table);
        const n = Number(arg());
        const secs = c < commands.length && /^[0-9.]+$/.test(commands[c]) ? Number(arg()) : timeoutMs / 1000;
        if (!(await waitRows(table, (rows) => rows.length === n, secs)))
          die(1, `wait-rows: ${table} did not reach ${n} rows in ${secs} s`);
        break;
      }
      case "wait-value": {
        const table = arg();
        checkTable(table);
        const id = arg();
        const column = arg();
        const want = fromJsonValue(JSON.parse(arg()));
        const secs = c < commands.length && /^[0-9.]+$/.test(commands[c]) ? Number(arg()) : timeoutMs / 1000;
        const ok = await waitRows(table, (rows) => rows.some((r) => r.id === id && sameValue(r[column], want)), secs);
        if (!ok) die(1, `wait-value: ${table} ${id} ${column} did not become ${JSON.stringify(toJsonValue(want))} in ${secs} s`);
        break;
      }
      case "watch": {
        const secs = Number(arg());
        const seen = new Map();
        const unsubs = [];
        const report = (table) => {
          for (const row of evolu.getQueryRows(tableQuery(table))) {
            const line = rowLine(row);
            const key = `${table}\u0000${row.id}`;
            if (seen.get(key) !== line) {
              seen.set(key, line);
              out(`{"table":${JSON.stringify(table)},"row":${line}}`);
            }
          }
        };
        // Rows present at the start are not changes: load them first.
        for (const table of Object.keys(TABLES)) {
          for (const row of await evolu.loadQuery(tableQuery(table))) seen.set(`${table}\u0000${row.id}`, rowLine(row));
          unsubs.push(evolu.subscribeQuery(tableQuery(table))(() => report(table)));
        }
        process.stderr.write(`ts-app: watching ${appOwner.id}\n`);
        const stop = Promise.withResolvers();
        const timer = setTimeout(stop.resolve, Math.min(secs * 1000, Math.max(0, deadline - Date.now())));
        process.once("SIGTERM", stop.resolve);
        process.once("SIGINT", stop.resolve);
        await stop.promise;
        clearTimeout(timer);
        for (const u of unsubs) u();
        break;
      }
      case "sleep":
        await sleep(Number(arg()) * 1000);
        break;
      case "echo":
        out(arg());
        break;
      default:
        die(2, `unknown command ${cmd}`);
    }
  }
  await settle();
  failOnError();
} catch (e) {
  process.stderr.write(`ts-app: ${e && e.stack ? e.stack : e}\n`);
  code = 1;
}
await shutdown();
process.exit(code);
