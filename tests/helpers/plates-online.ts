/**
 * A tiny E-Poselok online check for plate tests: a real HTTP emulator on 127.0.0.1 answering
 * `GET /cgi-bin/cars/avtogate.cgi?...&plate=` with text containing `isallowaccess=1` for allowed
 * plates, and an OnlineChecker over httpRequest with a minimal breaker (after `failures`
 * consecutive errors it answers 'skipped' for `openMs`).
 */
import { HttpEmulator } from '../../src/emulators/http-emulator';
import { httpRequest } from '../../src/devices/http';
import type { OnlineChecker, OnlineResult, Plate } from '../../src/core/contracts';

export async function startOnlineEmulator(allowed: Set<string>): Promise<HttpEmulator> {
  const emu = new HttpEmulator('eposelok-online', (_req, _body, url) => {
    if (url.pathname !== '/cgi-bin/cars/avtogate.cgi') return { status: 404, body: 'not found' };
    if (url.searchParams.get('id') !== 'tok') return { status: 200, body: 'error=auth', headers: { 'content-type': 'text/plain' } };
    const plate = url.searchParams.get('plate') ?? '';
    return { status: 200, body: allowed.has(plate) ? `plate=${plate}\nisallowaccess=1\n` : `plate=${plate}\nisallowaccess=0\n`, headers: { 'content-type': 'text/plain' } };
  });
  return emu.listen();
}

export class TestOnlineChecker implements OnlineChecker {
  private fails = 0;
  private openUntil = 0;
  calls = 0;
  get consecutiveFailures(): number {
    return this.fails;
  }
  constructor(
    private base: string,
    private timeoutMs = 1000,
    private failures = 3,
    private openMs = 30000,
  ) {}

  async check(plate: Plate): Promise<OnlineResult> {
    const started = Date.now();
    if (Date.now() < this.openUntil) return { status: 'skipped', latencyMs: 0, error: 'circuit breaker open' };
    this.calls++;
    const url = `${this.base}/cgi-bin/cars/avtogate.cgi?pnam=test&api=1&id=tok&CamId=c1&plate=${encodeURIComponent(plate.canonical)}`;
    try {
      const r = await httpRequest({ url, timeoutMs: this.timeoutMs });
      if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
      this.fails = 0;
      return { status: r.body.includes('isallowaccess=1') ? 'allowed' : 'denied', latencyMs: r.latencyMs };
    } catch (err) {
      if (++this.fails >= this.failures) this.openUntil = Date.now() + this.openMs;
      return { status: 'unavailable', latencyMs: Date.now() - started, error: (err as Error).message };
    }
  }
}
