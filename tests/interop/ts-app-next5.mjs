// Wiring of a headless Evolu app on @evolu/common 8.0.0-next.5 with
// @evolu/nodejs 3.0.0-next.3, as the package's own integration test wires it
// (packages/common/test/local-first/Evolu.test.ts at that tag): the SharedWorker
// and DbWorker run in-process (createSharedWorker / createWorker), SQLite is
// @evolu/nodejs's better-sqlite3 driver (files in the current folder), locks
// are Node 24's navigator.locks, WebSocket is Node 24's (observed by ts-app.mjs).
// Used by ts-app.mjs.
export const start = async ({ common, lf, nodejs, Schema, appOwner, transports, createWebSocket }) => {
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
    createSqliteDriver: nodejs.createBetterSqliteDriver,
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
  const evolu = await run.orThrow(
    lf.createEvolu(Schema, {
      appName: lf.AppName.orThrow("interop"),
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
