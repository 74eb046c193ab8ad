/**
 * Writes that failed because the disk is full, read-only or failing are kept in memory and tried
 * again until the disk is back, instead of being lost: a full disk must never cost a recorded
 * passage while memory lasts. The backlog is bounded (`max` items); beyond it the OLDEST items are
 * dropped and counted (never silently) — below the bound nothing is dropped.
 *
 * Retries back off from `retryMinMs` to `retryMaxMs`; `retrySoon()` (called when another write has
 * just succeeded, so the disk is back) tries at once. `onState` reports the trouble (a text for an
 * alarm) and its end (null).
 */

/** sqlite result codes that say "the disk / file system", not "this row": worth retrying later. */
const TRANSIENT = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|BUSY|LOCKED|PROTOCOL|NOMEM|INTERRUPT)/;
/** file system errors of the same kind (images, files) */
const TRANSIENT_FS = new Set(['ENOSPC', 'EROFS', 'EACCES', 'EPERM', 'EFBIG', 'EIO', 'EDQUOT', 'ENOTDIR', 'ENOENT', 'EMFILE', 'ENFILE']);

/** Whether a write error is the disk's fault (retry later) rather than the data's (retrying cannot help). */
export function isDiskError(err: unknown): boolean {
  const code = String((err as NodeJS.ErrnoException)?.code ?? '');
  const msg = String((err as Error)?.message ?? '');
  return TRANSIENT.test(code) || TRANSIENT.test(msg) || TRANSIENT_FS.has(code);
}

export interface WriteBacklogOptions<T> {
  /** most items kept (default 20,000) */
  max?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  /** writes items (all or nothing); rejects when the disk still fails */
  write: (items: T[]) => Promise<void>;
  /** the items were written by a retry */
  written: (items: T[]) => void;
  /** the items were dropped (backlog full, or closed while the disk still failed) */
  dropped: (items: T[], why: string) => void;
  /** trouble (alarm text) or its end (null); called on every change of the counts while in trouble */
  onState: (problem: string | null) => void;
}

export class WriteBacklog<T> {
  private items: T[] = [];
  private timer: NodeJS.Timeout | null = null;
  private delay: number;
  private running: Promise<void> | null = null;
  private lastError = '';
  /** items dropped since start */
  droppedCount = 0;
  private readonly max: number;
  private readonly minMs: number;
  private readonly maxMs: number;

  constructor(private readonly opts: WriteBacklogOptions<T>) {
    this.max = Math.max(1, opts.max ?? 20_000);
    this.minMs = opts.retryMinMs ?? 500;
    this.maxMs = Math.max(this.minMs, opts.retryMaxMs ?? 10_000);
    this.delay = this.minMs;
  }

  get size(): number {
    return this.items.length;
  }

  /** Keeps items whose write failed with `err`, to be tried again. */
  keep(items: T[], err: Error): void {
    this.lastError = `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`.trim();
    this.items.push(...items);
    if (this.items.length > this.max) {
      const over = this.items.splice(0, this.items.length - this.max);
      this.droppedCount += over.length;
      this.opts.dropped(over, `backlog full (${this.max} events kept in memory)`);
    }
    this.report();
    this.schedule();
  }

  /** Another write just worked: try the backlog now. */
  retrySoon(): void {
    if (!this.items.length || this.running) return;
    this.delay = this.minMs;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    void this.retry();
  }

  /** One last try (shutdown); what still fails is dropped and counted. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    if (this.items.length) await this.retry();
    if (this.items.length) {
      const left = this.items.splice(0);
      this.droppedCount += left.length;
      this.opts.dropped(left, `closed while the disk still fails (${this.lastError})`);
    }
  }

  private report(): void {
    if (!this.items.length) return this.opts.onState(null);
    this.opts.onState(`writes failing (${this.lastError}): ${this.items.length} kept in memory and retried, ${this.droppedCount} dropped`);
  }

  private schedule(): void {
    if (this.timer || this.running || !this.items.length) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.retry();
    }, this.delay);
    this.timer.unref();
    this.delay = Math.min(this.maxMs, this.delay * 2);
  }

  private retry(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      while (this.items.length) {
        const batch = this.items.slice(0, 500);
        try {
          await this.opts.write(batch);
        } catch (err) {
          this.lastError = `${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`.trim();
          this.report();
          return;
        }
        // by identity: a keep() during the write may have appended (or dropped the oldest)
        const done = new Set(batch);
        this.items = this.items.filter((x) => !done.has(x));
        this.opts.written(batch);
      }
      this.delay = this.minMs;
      this.report();
    })().finally(() => {
      this.running = null;
      this.schedule();
    });
    return this.running;
  }
}
