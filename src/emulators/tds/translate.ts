/**
 * A small T-SQL → SQLite translation for the TDS test server: enough for the statements a SQL
 * client and gatepost's iVMS reader send, not a SQL Server. Handles [bracket] and schema/database
 * prefixes, TOP n / TOP (@n) → LIMIT, OFFSET … FETCH, N'…' literals, @params → $params,
 * @@VERSION and friends, a few functions (ISNULL, LEN, GETDATE, SYSDATETIME), WITH (NOLOCK).
 * Session statements (SET, USE, BEGIN/COMMIT TRAN, IF @@TRANCOUNT …, DECLARE) answer "done".
 */

export type Translated = { kind: 'noop'; use?: string } | { kind: 'query'; sql: string; params: string[] };

/** Splits a batch into statements at `;` and GO lines outside quotes/brackets/comments. */
export function splitStatements(batch: string): string[] {
  const out: string[] = [];
  let cur = '';
  let i = 0;
  while (i < batch.length) {
    const c = batch[i];
    if (c === "'" || c === '"' || c === '[') {
      const close = c === '[' ? ']' : c;
      let j = i + 1;
      for (;;) {
        if (j >= batch.length) break;
        if (batch[j] === close) {
          if (batch[j + 1] === close) {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      cur += batch.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '-' && batch[i + 1] === '-') {
      const j = batch.indexOf('\n', i);
      i = j < 0 ? batch.length : j;
      continue;
    }
    if (c === '/' && batch[i + 1] === '*') {
      const j = batch.indexOf('*/', i + 2);
      i = j < 0 ? batch.length : j + 2;
      cur += ' ';
      continue;
    }
    if (c === ';') {
      out.push(cur);
      cur = '';
      i++;
      continue;
    }
    if ((c === '\n' || i === 0) && /^\s*go\s*(\n|$)/i.test(batch.slice(c === '\n' ? i + 1 : i))) {
      out.push(cur);
      cur = '';
      const m = /^\s*go\s*(\n|$)/i.exec(batch.slice(c === '\n' ? i + 1 : i))!;
      i += (c === '\n' ? 1 : 0) + m[0].length;
      continue;
    }
    cur += c;
    i++;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter((s) => s.length > 0);
}

/** Runs fn over the parts of `sql` outside string literals (quoted identifiers included as code). */
function mapCode(sql: string, fn: (code: string) => string): string {
  const parts = sql.split(/('(?:[^']|'')*')/);
  return parts.map((p, i) => (i % 2 ? p : fn(p))).join('');
}

const NOOP = /^(set|use|begin\s+tran|begin\s+transaction|commit|rollback|if\s+@@trancount|declare|print|exec\s+sp_reset_connection|dbcc)\b/i;

export function translate(stmt: string): Translated {
  const s = stmt.trim();
  const use = /^use\s+\[?([^\]\s;]+)\]?/i.exec(s);
  if (use) return { kind: 'noop', use: use[1] };
  if (NOOP.test(s)) return { kind: 'noop' };
  let sql = s;
  // N'…' → '…'
  sql = sql.replace(/\bN'/g, "'");
  sql = mapCode(sql, (code) => {
    let c = code;
    // [ident] → "ident"
    c = c.replace(/\[((?:[^\]]|\]\])*)\]/g, (_m, id: string) => `"${id.replace(/\]\]/g, ']').replace(/"/g, '""')}"`);
    // db.schema.table / schema.table after FROM/JOIN/INTO/UPDATE → table
    c = c.replace(
      /\b(from|join|into|update)(\s+)((?:(?:"[^"]*"|[\p{L}_][\p{L}\p{N}_$#@]*)?\.){1,2})("[^"]*"|[\p{L}_][\p{L}\p{N}_$#@]*)/giu,
      (_m, kw: string, sp: string, _pre: string, name: string) => `${kw}${sp}${name}`,
    );
    c = c.replace(/\bwith\s*\(\s*nolock\s*\)/gi, '');
    c = c.replace(/@@version\b/gi, "'Microsoft SQL Server 2022 (gatepost TDS emulator)'");
    c = c.replace(/@@spid\b/gi, '51');
    c = c.replace(/@@servername\b/gi, "'gatepost'");
    c = c.replace(/@@trancount\b/gi, '0');
    c = c.replace(/\bisnull\s*\(/gi, 'IFNULL(');
    c = c.replace(/\blen\s*\(/gi, 'LENGTH(');
    c = c.replace(/\b(getdate|sysdatetime|getutcdate|sysutcdatetime)\s*\(\s*\)/gi, "strftime('%Y-%m-%d %H:%M:%f','now')");
    c = c.replace(/\bdb_name\s*\(\s*\)/gi, "'thirdparty'");
    return c;
  });
  // TOP (n) / TOP n → LIMIT at the end (one top-level SELECT)
  let limit: string | null = null;
  sql = mapCode(sql, (code) =>
    code.replace(/\bselect(\s+distinct)?\s+top\s*(?:\(\s*(@?\w+)\s*\)|(\d+))(\s+percent)?/i, (_m, distinct: string | undefined, a: string | undefined, b: string | undefined) => {
      limit = a ?? b ?? null;
      return `SELECT${distinct ?? ''}`;
    }),
  );
  // OFFSET n ROWS FETCH NEXT m ROWS ONLY → LIMIT m OFFSET n
  sql = mapCode(sql, (code) =>
    code.replace(/\boffset\s+(@?\w+)\s+rows?(?:\s+fetch\s+(?:next|first)\s+(@?\w+)\s+rows?\s+only)?/i, (_m, off: string, n: string | undefined) => `LIMIT ${n ?? -1} OFFSET ${off}`),
  );
  if (limit) sql = `${sql} LIMIT ${limit}`;
  const params: string[] = [];
  sql = mapCode(sql, (code) =>
    code.replace(/@([\p{L}_][\p{L}\p{N}_$#@]*)/gu, (_m, name: string) => {
      if (!params.includes(name)) params.push(name);
      return `$${name}`;
    }),
  );
  return { kind: 'query', sql, params };
}

/** The parameter names and their declared types from sp_executesql's @params text. */
export function declaredParams(decl: string): Array<{ name: string; type: string }> {
  const out: Array<{ name: string; type: string }> = [];
  const re = /@([\p{L}_][\p{L}\p{N}_$#@]*)\s+([A-Za-z0-9_]+(?:\s*\([^)]*\))?)/gu;
  for (const m of decl.matchAll(re)) out.push({ name: m[1], type: m[2].toLowerCase() });
  return out;
}
