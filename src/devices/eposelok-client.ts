/**
 * E-Poselok driver: the allowed-plates list (for the local mirror) and the per-plate online
 * check (`OnlineChecker` for plate-check), over the shared HTTP client.
 *
 *   list:  {listBase}/cgi-bin/standalone/avto.cgi?action={token}&gate=0&json=1
 *   check: {checkBase}/cgi-bin/cars/avtogate.cgi?pnam={NAME}&api=1&id={token}&CamId={camId}&plate={plate}
 *
 * A base may contain `{NAME}` (the settlement slug) and may already be the full endpoint URL
 * (ending in `.cgi`). The check treats a body containing `isallowaccess=1` as allowed, any other
 * answer as denied, and errors as 'unavailable' (never allowed); after `breakerFailures`
 * consecutive errors a circuit breaker answers 'skipped' at once until a half-open retry.
 * The token and camId never reach a log or an error message.
 */
import { httpRequest, DeviceError, redactUrl } from './http';
import type { OnlineChecker, OnlineResult, Plate } from '../core/contracts';
import { CircuitBreaker, BreakerSnapshot } from '../core/breaker';
import { parseAllowedListSteps, ListParse, ListErrorKind } from '../core/eposelok-list';
import { runSliced } from '../core/steps';
import { displayPlate } from '../core/plate';
import type { Clock } from '../core/clock';
import { systemClock } from '../core/clock';
import type { Logger } from '../core/log';
import { silentLogger } from '../core/log';

export const DEFAULT_LIST_BASE = 'https://lk-{NAME}.e-poselok.ru';
export const DEFAULT_CHECK_BASE = 'https://api.e-poselok.ru';
export const LIST_PATH = '/cgi-bin/standalone/avto.cgi';
export const CHECK_PATH = '/cgi-bin/cars/avtogate.cgi';

export interface EposelokConfig {
  /** settlement slug (as in lk-NAME.e-poselok.ru) */
  name: string;
  token: string;
  camId?: string;
  listBase?: string;
  checkBase?: string;
  /** list fetch timeout, ms (default 20 000) */
  listTimeoutMs?: number;
  /** online check timeout, ms (default 1 500) */
  checkTimeoutMs?: number;
  /** consecutive failures that open the breaker (default 3) */
  breakerFailures?: number;
  /** open time before the half-open retry, ms (default 30 000) */
  breakerResetMs?: number;
  /** how the plate is sent to the online check: canonical Latin (default) or Cyrillic letters */
  plateForm?: 'canonical' | 'cyrillic';
  /** largest list body accepted, bytes (default 32 MiB) */
  maxListBytes?: number;
}

/** A list fetch that failed: the mirror must be kept. */
export class EposelokError extends Error {
  constructor(
    message: string,
    readonly kind: 'timeout' | 'network' | 'http' | ListErrorKind,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface ListFetch {
  parse: Extract<ListParse, { ok: true }>;
  latencyMs: number;
  bytes: number;
}

export interface CheckStats {
  checks: number;
  allowed: number;
  denied: number;
  unavailable: number;
  skipped: number;
  lastLatencyMs: number | null;
  avgLatencyMs: number | null;
  /** recent latencies of answered checks, ms (newest last, at most 200) */
  recentLatencyMs: number[];
  breaker: BreakerSnapshot;
}

function endpoint(base: string, name: string, path: string): string {
  const b = base
    .trim()
    .replace(/\{NAME\}/g, encodeURIComponent(name))
    .replace(/\/+$/, '');
  return /\.cgi$/i.test(b) ? b : b + path;
}

export class EposelokClient implements OnlineChecker {
  readonly breaker: CircuitBreaker;
  private stats = { checks: 0, allowed: 0, denied: 0, unavailable: 0, skipped: 0, latencySum: 0, latencyN: 0, last: null as number | null, recent: [] as number[] };
  private readonly secrets: string[];

  constructor(
    readonly config: EposelokConfig,
    private readonly logger: Logger = silentLogger,
    clock: Pick<Clock, 'now'> = systemClock,
  ) {
    this.breaker = new CircuitBreaker(clock, { failureThreshold: config.breakerFailures ?? 3, resetMs: config.breakerResetMs ?? 30000 });
    this.secrets = [config.token, config.camId ?? ''].filter((s) => s && s.length >= 2);
  }

  /** Missing settings, as a readable list (empty when the client can work). */
  static problems(c: Partial<EposelokConfig>): string[] {
    const p: string[] = [];
    if (!c.name || /^\$\{/.test(c.name)) p.push('settlement name');
    if (!c.token) p.push('token');
    for (const [k, v] of [
      ['list URL', c.listBase],
      ['check URL', c.checkBase],
    ] as const) {
      if (v === undefined || v === '') continue;
      try {
        const u = new URL(v.replace(/\{NAME\}/g, 'x'));
        if (u.protocol !== 'http:' && u.protocol !== 'https:') p.push(`${k} (http/https only)`);
      } catch {
        p.push(`${k} (not a URL)`);
      }
    }
    return p;
  }

  listUrl(): string {
    const u = endpoint(this.config.listBase || DEFAULT_LIST_BASE, this.config.name, LIST_PATH);
    return `${u}?action=${encodeURIComponent(this.config.token)}&gate=0&json=1`;
  }

  checkUrl(plate: Plate): string {
    const u = endpoint(this.config.checkBase || DEFAULT_CHECK_BASE, this.config.name, CHECK_PATH);
    const sent = this.config.plateForm === 'cyrillic' ? displayPlate(plate.canonical) : plate.canonical;
    return (
      `${u}?pnam=${encodeURIComponent(this.config.name)}&api=1&id=${encodeURIComponent(this.config.token)}` + `&CamId=${encodeURIComponent(this.config.camId ?? '')}&plate=${encodeURIComponent(sent)}`
    );
  }

  /** Any text with the token and camId masked (error messages may quote a URL). */
  scrub(text: string): string {
    let out = text;
    for (const s of this.secrets) {
      out = out.split(s).join('***');
      const enc = encodeURIComponent(s);
      if (enc !== s) out = out.split(enc).join('***');
    }
    return out;
  }

  /** Fetches and parses the list; throws EposelokError when it cannot be used. */
  async fetchList(): Promise<ListFetch> {
    const url = this.listUrl();
    let res;
    try {
      res = await httpRequest({
        url,
        timeoutMs: this.config.listTimeoutMs ?? 20000,
        responseType: 'buffer',
        maxBytes: this.config.maxListBytes ?? 32 * 1024 * 1024,
        headers: { Accept: 'application/json' },
      });
    } catch (err) {
      const e = err as DeviceError;
      const msg = `list fetch from ${redactUrl(url)} failed: ${this.scrub(e.message)}`;
      this.logger.warn(`e-poselok: ${msg}`);
      throw new EposelokError(msg, e.code === 'timeout' ? 'timeout' : 'network');
    }
    if (res.status < 200 || res.status >= 300) {
      const html = /text\/html/i.test(res.headers['content-type'] ?? '') || /^\s*</.test(res.body.subarray(0, 64).toString('latin1'));
      const msg = `list fetch from ${redactUrl(url)}: HTTP ${res.status}${html ? ' (HTML error page)' : ''}`;
      this.logger.warn(`e-poselok: ${msg}`);
      throw new EposelokError(msg, 'http', res.status);
    }
    // in slices: a 50k list is parsed beside the decisions, not in one block
    const parse = await runSliced(parseAllowedListSteps(res.body, res.headers['content-type'] ?? ''));
    if (!parse.ok) {
      const msg = `list from ${redactUrl(url)} unusable: ${this.scrub(parse.error)}`;
      this.logger.warn(`e-poselok: ${msg}`);
      throw new EposelokError(msg, parse.kind);
    }
    return { parse, latencyMs: res.latencyMs, bytes: res.body.length };
  }

  /** The online check of one plate (never throws; errors are 'unavailable'). */
  async check(plate: Plate): Promise<OnlineResult> {
    this.stats.checks++;
    if (!this.breaker.tryAcquire()) {
      this.stats.skipped++;
      return { status: 'skipped', latencyMs: 0, error: 'circuit breaker open' };
    }
    const url = this.checkUrl(plate);
    const started = performance.now();
    try {
      const res = await httpRequest({ url, timeoutMs: this.config.checkTimeoutMs ?? 1500, maxBytes: 64 * 1024 });
      this.recordLatency(res.latencyMs);
      if (res.status < 200 || res.status >= 300) throw new DeviceError(`HTTP ${res.status}`, 'http', res.status);
      this.breaker.success();
      if (/isallowaccess\s*=\s*1\b/i.test(res.body)) {
        this.stats.allowed++;
        return { status: 'allowed', latencyMs: res.latencyMs };
      }
      if (!/isallowaccess\s*=/i.test(res.body)) {
        this.logger.warn(`e-poselok: online check answer without isallowaccess (${JSON.stringify(this.scrub(res.body.slice(0, 80)))}); treated as denied`);
      }
      this.stats.denied++;
      return { status: 'denied', latencyMs: res.latencyMs };
    } catch (err) {
      const wasOpen = this.breaker.snapshot().state !== 'closed';
      this.breaker.failure();
      this.stats.unavailable++;
      const latencyMs = performance.now() - started;
      const error = this.scrub((err as Error).message);
      const snap = this.breaker.snapshot();
      if (!wasOpen && snap.state === 'open') {
        this.logger.warn(`e-poselok: online check failing (${error}); circuit breaker open for ${Math.round(this.breaker.resetMs / 1000)} s`);
      } else {
        this.logger.debug(`e-poselok: online check ${redactUrl(url)} failed: ${error}`);
      }
      return { status: 'unavailable', latencyMs, error };
    }
  }

  private recordLatency(ms: number): void {
    this.stats.last = ms;
    this.stats.latencySum += ms;
    this.stats.latencyN++;
    this.stats.recent.push(ms);
    if (this.stats.recent.length > 200) this.stats.recent.shift();
  }

  checkStats(): CheckStats {
    const s = this.stats;
    return {
      checks: s.checks,
      allowed: s.allowed,
      denied: s.denied,
      unavailable: s.unavailable,
      skipped: s.skipped,
      lastLatencyMs: s.last,
      avgLatencyMs: s.latencyN ? s.latencySum / s.latencyN : null,
      recentLatencyMs: [...s.recent],
      breaker: this.breaker.snapshot(),
    };
  }
}
