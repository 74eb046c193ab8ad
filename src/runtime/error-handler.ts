/**
 * The last error handler of the HTTP app (issue 19, item 14): an error that reaches it — a body
 * over the parser's limit, malformed JSON, a throw in any route of gatepost, Node-RED's editor
 * (httpAdmin) or the flows' HTTP routes and the dashboard (httpNode) — is answered with its status
 * and a short text, never a stack trace or a file path, whatever NODE_ENV says (Express's default
 * handler prints the stack unless NODE_ENV=production). Server errors are logged here instead.
 */
import type { ErrorRequestHandler, Request } from 'express';
import type { RuntimeLogger } from './logger';

const TEXTS: Record<number, string> = {
  400: 'bad request / неверный запрос',
  401: 'login required / требуется вход',
  403: 'forbidden / запрещено',
  404: 'not found / не найдено',
  408: 'request timeout / истекло время запроса',
  413: 'request too large / слишком большой запрос',
  415: 'unsupported content type / неподдерживаемый тип данных',
  429: 'too many requests / слишком много запросов',
  500: 'internal error / внутренняя ошибка',
};

export function statusOf(err: unknown): number {
  const e = err as { status?: unknown; statusCode?: unknown } | null;
  const n = Number(e?.status ?? e?.statusCode);
  return Number.isInteger(n) && n >= 400 && n <= 599 ? n : 500;
}

const wantsJson = (req: Request) => /json/.test(String(req.headers.accept ?? '')) || req.path.startsWith('/api/') || !!req.is('application/json');

export function finalErrorHandler(log: RuntimeLogger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const status = statusOf(err);
    if (status >= 500) log.error(`${req.method} ${req.path}: ${(err as Error)?.stack ?? err}`);
    if (res.headersSent) {
      // too late for a status: end the response, do not hang it
      res.destroy();
      return;
    }
    const text = TEXTS[status] ?? (status >= 500 ? TEXTS[500] : TEXTS[400]);
    res.status(status);
    if (wantsJson(req)) res.json({ error: text });
    else res.type('text/plain; charset=utf-8').send(text + '\n');
  };
}
