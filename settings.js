/**
 * Node-RED settings of the gatepost runtime (src/runtime/node-red.ts calls this function at start).
 *
 * It is a function of the runtime context rather than a static object because the values that
 * matter are generated or configured at start: the data directory, the credentialSecret kept in
 * <dataDir>/secrets.json, the admin account, the log handler and the dashboard's auth hooks.
 * Edit the defaults here (e.g. editorTheme, functionGlobalContext); security-relevant settings
 * (adminAuth, credentialSecret, dashboard middleware) are supplied by the runtime.
 *
 * ctx: { userDir, dbPath, timezone, credentialSecret, adminAuth, logHandler, logLevel,
 *        dashboardMiddleware, dashboardIoMiddleware, httpAdminRoot, httpNodeRoot }
 */
'use strict';

module.exports = function gatepostSettings(ctx) {
  return {
    userDir: ctx.userDir,
    flowFile: 'flows.json',
    flowFilePretty: true,
    credentialSecret: ctx.credentialSecret,

    // editor at /admin (Node-RED's own login uses the same accounts; the runtime's cookie works too)
    httpAdminRoot: ctx.httpAdminRoot || '/admin',
    httpNodeRoot: ctx.httpNodeRoot || '/',
    adminAuth: ctx.adminAuth,
    // the runtime serves its own static files and protects httpNode routes itself
    httpStatic: false,
    disableEditor: false,
    // no external package installs from the palette manager on a guard post
    externalModules: { palette: { allowInstall: false }, modules: { allowInstall: false } },

    // gatepost's nodes find the shared hub here (nodes/common/hub.ts)
    gatepost: { dbPath: ctx.dbPath, timezone: ctx.timezone },

    // Dashboard 2.0: the pages and their socket.io require a logged-in user
    dashboard: {
      middleware: ctx.dashboardMiddleware,
      ioMiddleware: ctx.dashboardIoMiddleware,
    },

    logging: {
      console: { level: 'off' },
      gatepost: { level: ctx.logLevel || 'info', metrics: false, audit: false, handler: ctx.logHandler },
    },

    editorTheme: {
      page: { title: 'gatepost' },
      header: { title: 'gatepost' },
      projects: { enabled: false },
      tours: false,
      logout: { redirect: '/logout' },
    },

    lang: 'ru',
    diagnostics: { enabled: false },
    runtimeState: { enabled: false, ui: false },
    telemetry: { enabled: false },
    exportGlobalContextKeys: false,
    functionExternalModules: false,
    debugMaxLength: 1000,
    mqttReconnectTime: 5000,
    contextStorage: { default: { module: 'memory' } },
  };
};
