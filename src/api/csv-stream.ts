/**
 * CSV exports that never block the process (issue 19, item 9). An export of 100,000 events built
 * as one string stalled the event loop for ~0.9 s — plates waited behind it. Here:
 *  - rows come in pages (the caller's async iterator, keyset-paged in the store) and each page is
 *    formatted and written on its own, with a macrotask yield between pages;
 *  - the response's backpressure is respected (wait for 'drain'), so a slow client never makes
 *    the process buffer the whole file;
 *  - at most MAX_CONCURRENT_EXPORTS run at once; another one gets 429 with Retry-After.
 * Format: a UTF-8 BOM, a header row, CRLF lines, cells from csvLine (formula cells defused).
 */
import type { Request, Response } from 'express';
import { csvLine } from './util';

export const MAX_CONCURRENT_EXPORTS = 2;
/** seconds a refused export is told to wait */
export const EXPORT_RETRY_AFTER_S = 5;

export interface ExportStats {
  rows: number;
  /** writes to the response (one per page, plus the header) */
  chunks: number;
  /** the longest synchronous stretch spent formatting one chunk, ms */
  maxChunkMs: number;
  /** false when the client went away before the end */
  complete: boolean;
}

let active = 0;
let total = 0;
let refused = 0;
let last: ExportStats | null = null;

/** For /api/system: running exports, totals, and the figures of the last finished one. */
export function exportStatus(): { active: number; max: number; total: number; refused: number; last: ExportStats | null } {
  return { active, max: MAX_CONCURRENT_EXPORTS, total, refused, last };
}

/** Waits until the response takes more data (or is gone); leaves no listener behind. */
function drainOrClose(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Streams `pages` as a CSV attachment. Answers 429 (JSON, Retry-After) when
 * MAX_CONCURRENT_EXPORTS exports are running. Errors after the first byte end the response
 * (a truncated file is better than a hung download); before it they reject (JSON error upstream).
 */
export async function streamCsv(req: Request, res: Response, opts: { columns: string[]; filename: string; pages: AsyncIterable<Record<string, unknown>[]> }): Promise<void> {
  if (active >= MAX_CONCURRENT_EXPORTS) {
    refused++;
    res.setHeader('Retry-After', String(EXPORT_RETRY_AFTER_S));
    res.status(429).json({ error: 'too many exports running; retry shortly / слишком много выгрузок, повторите позже' });
    return;
  }
  active++;
  total++;
  const stats: ExportStats = { rows: 0, chunks: 0, maxChunkMs: 0, complete: false };
  let gone = false;
  const onClose = () => (gone = !res.writableFinished);
  res.on('close', onClose);
  const write = async (text: string) => {
    stats.chunks++;
    if (!res.write(text)) await drainOrClose(res);
  };
  const iterator = opts.pages[Symbol.asyncIterator]();
  try {
    // the first page is read before the headers go out, so a database error is still a JSON 500
    let page = await iterator.next();
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="${opts.filename}"`);
    await write('\uFEFF' + opts.columns.join(',') + '\r\n');
    while (!page.done && !gone) {
      const t0 = performance.now();
      let text = '';
      for (const row of page.value) text += csvLine(opts.columns, row) + '\r\n';
      stats.rows += page.value.length;
      stats.maxChunkMs = Math.max(stats.maxChunkMs, performance.now() - t0);
      if (text) await write(text);
      // let plates, MQTT and other requests run between pages
      await yieldToLoop();
      if (gone) break;
      page = await iterator.next();
    }
    stats.complete = !gone;
    if (!gone) res.end();
  } catch (err) {
    if (!res.headersSent) throw err;
    res.destroy(err as Error);
  } finally {
    await iterator.return?.().catch(() => undefined);
    res.off('close', onClose);
    active--;
    last = stats;
  }
}
