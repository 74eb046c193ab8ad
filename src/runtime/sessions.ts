/**
 * Server-side revocation of session cookies (issue 19, item 12). Session cookies are signed and
 * carry a random session id; logging out puts that id on this list until the cookie would have
 * expired anyway, so a copied cookie stops working at logout, not 24 h later. The list is kept in
 * <dataDir>/sessions-revoked.json (mode 0600) so a restart does not bring revoked sessions back.
 */
import * as fs from 'fs';

const MAX_REVOKED = 50_000;

export class RevokedSessions {
  /** session id → the expiry of its cookie (epoch ms) */
  private revoked = new Map<string, number>();

  constructor(
    private readonly file: string | null,
    private readonly onError: (message: string) => void = () => undefined,
  ) {
    if (!file) return;
    try {
      const data = JSON.parse(fs.readFileSync(file, 'utf8'));
      const now = Date.now();
      for (const [sid, exp] of Object.entries(data ?? {})) if (typeof exp === 'number' && exp > now) this.revoked.set(sid, exp);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') onError(`${file}: ${(err as Error).message}; starting with an empty list`);
    }
  }

  has(sid: string): boolean {
    return this.revoked.has(sid);
  }

  revoke(sid: string, exp: number): void {
    const now = Date.now();
    for (const [k, e] of this.revoked) if (e <= now) this.revoked.delete(k);
    this.revoked.set(sid, exp);
    while (this.revoked.size > MAX_REVOKED) this.revoked.delete(this.revoked.keys().next().value as string);
    this.save();
  }

  private save(): void {
    if (!this.file) return;
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.revoked)), { mode: 0o600 });
      fs.renameSync(tmp, this.file);
    } catch (err) {
      // kept in memory: revoked for this run at least
      this.onError(`could not save ${this.file}: ${(err as Error).message}`);
    }
  }
}
