/** The logging interface the domain and services use; the runtime supplies the real one. */
export interface Logger {
  debug(msg: string, meta?: Record<string, unknown>): void;
  info(msg: string, meta?: Record<string, unknown>): void;
  warn(msg: string, meta?: Record<string, unknown>): void;
  error(msg: string, meta?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Console logger used when no other is configured (one line per event). */
export const consoleLogger: Logger = {
  debug: () => undefined,
  info: (m, meta) => console.log(`[info] ${m}${meta ? ' ' + JSON.stringify(meta) : ''}`),
  warn: (m, meta) => console.warn(`[warn] ${m}${meta ? ' ' + JSON.stringify(meta) : ''}`),
  error: (m, meta) => console.error(`[error] ${m}${meta ? ' ' + JSON.stringify(meta) : ''}`),
};
