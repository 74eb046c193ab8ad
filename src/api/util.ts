/** Shared helpers of the REST API routers (mounted under /api by the runtime, behind auth). */
import type { Request, Response, NextFunction, RequestHandler } from 'express';

/** The logged-in user name the auth middleware put on the request ('anonymous' if none). */
export function actorOf(req: Request): string {
  return ((req as any).user?.username as string | undefined) ?? 'anonymous';
}

/** Wraps an async handler: a thrown error becomes a JSON 500 (or err.status), never a crash. */
export function asyncHandler(fn: (req: Request, res: Response) => Promise<unknown>): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    fn(req, res).catch((err: any) => {
      if (res.headersSent) return next(err);
      const status = Number(err?.status) || 500;
      res.status(status).json({ error: status === 500 ? 'internal error' : String(err.message ?? err) });
      if (status === 500) next(err);
    });
  };
}

/** An error the API reports to the client with its status (400 for bad input). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** One CSV line (no line break): values quoted when needed; formula-looking cells defused. */
export function csvLine(columns: string[], row: Record<string, unknown>): string {
  return columns.map((c) => csvCell(row[c])).join(',');
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = String(v);
  // a spreadsheet would run "=…", "+…", "-…", "@…" as a formula (CSV injection)
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n;]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Lets only the admin (Node-RED permissions '*') through; others get 403. */
export function requireAdmin(req: Request, res: Response, next: NextFunction): void {
  if ((req as any).user?.permissions === '*') return next();
  res.status(403).json({ error: 'admin only / только для администратора' });
}
