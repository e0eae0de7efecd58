// Wiring of a headless Evolu app on @evolu/common 8.11.0: the same in-process
// SharedWorker / DbWorker / channels as for 8.0.0-next.5, with a small
// better-sqlite3 driver of our own (@evolu/nodejs 3.0.0-next.3 cannot load
// with 8.11.0: it imports `lazyVoid`, renamed `constVoid`). 8.11.0 asks the
// driver for an encrypted database (SQLCipher in real apps); better-sqlite3
// has no cipher, so the file is plain - the interop tests look at rows, not
// at the file. Used by ts-app.mjs.
const createDriver = ({ common, BetterSqlite }) => (name, options) => () => {
  const memory = options?.mode === "memory";
  const filename = memory ? ":memory:" : `${name}.db`;
  const db = new BetterSqlite(filename);
  const statements = new Map();
  const prepare = (sql) => {
    let s = statements.get(sql);
    if (!s) {
      s = db.prepare(sql);
      statements.set(sql, s);
    }
    return s;
  };
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    statements.clear();
    db.close();
  };
  return common.ok({
    exec: (query) => {
      const s = prepare(query.sql);
      if (s.reader) return { rows: s.all(query.parameters), changes: 0 };
      return { rows: [], changes: s.run(query.parameters).changes };
    },
    export: () => {
      const file = db.serialize();
      return new Uint8Array(file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength));
    },
    deleteDatabase: () => {
      close();
      if (!memory) {
        const { rmSync } = process.getBuiltinModule("node:fs");
        for (const f of [filename, `${filename}-wal`, `${filename}-shm`, `${filename}-journal`])
          rmSync(f, { force: true });
      }
    },
    [Symbol.dispose]: close,
  });
};

export const start = async ({ common, lf, BetterSqlite, Schema, appOwner, transports, createWebSocket }) => {
  const console = common.createConsole({ level: process.env.EVOLU_TS_LOG ?? "warn" });
  const consoleStoreOutput = common.createConsoleStoreOutput();
  const lockManager = navigator.locks;

  const sharedRun = common.createRun({
    console,
    consoleStoreOutputEntry: consoleStoreOutput.entry,
    createBroadcastChannel: common.createBroadcastChannel,
    createMessageChannel: common.createMessageChannel,
    createMessagePort: common.createMessagePort,
    createWebSocket,
    lockManager,
  });
  const workerRun = common.createRun({
    console,
    consoleStoreOutputEntry: consoleStoreOutput.entry,
    createBroadcastChannel: common.createBroadcastChannel,
    createMessagePort: common.createMessagePort,
    lockManager,
    createSqliteDriver: createDriver({ common, BetterSqlite }),
  });
  const createDbWorker = () =>
    common.createWorker((self) => {
      workerRun(lf.startDbWorker(self));
    });
  const sharedWorker = common.createSharedWorker((self) => {
    sharedRun(lf.initSharedWorker(self));
  });

  const evoluDeps = lf.createEvoluDeps({
    console,
    createDbWorker,
    createBroadcastChannel: common.createBroadcastChannel,
    createMessageChannel: common.createMessageChannel,
    lockManager,
    reloadApp: () => {},
    sharedWorker,
  });
  const run = common.createRun(evoluDeps);
  const evolu = await run.ok(
    lf.createEvolu(Schema, {
      appName: common.AppName?.orThrow?.("interop") ?? lf.AppName.orThrow("interop"),
      appOwner,
      transports,
    }),
  );
  const shutdown = async () => {
    try {
      await evolu[Symbol.asyncDispose]?.();
    } catch {}
  };
  return { evolu, evoluError: evoluDeps.evoluError, shutdown };
};
