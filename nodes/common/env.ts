/**
 * Node properties and credentials that may name an environment variable. Node-RED substitutes
 * `${VAR}` in a node's properties when the variable is set (and leaves the text when it is not),
 * but never in its credentials — the shipped flows keep their secrets in the environment, so the
 * nodes resolve `${VAR}` in credentials themselves.
 */

const ENV_REF = /^\$\{(\w+)\}$/;

/** A text property: trimmed, undefined when empty or an unresolved `${VAR}`. */
export function textProp(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (!s || ENV_REF.test(s)) return undefined;
  return s;
}

/** A credential: its value; `${VAR}` → that environment variable; empty → `envFallback` if named. */
export function credentialProp(v: unknown, envFallback?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const s = typeof v === 'string' ? v.trim() : '';
  const m = ENV_REF.exec(s);
  if (m) return env[m[1]] || undefined;
  return s || (envFallback ? env[envFallback] : undefined) || undefined;
}

/** An integer property: the default when empty or an unresolved `${VAR}`; NaN (reported by the caller's check) when not a number. */
export function intProp(v: unknown, dflt: number): number {
  if (typeof v === 'number') return v;
  const s = textProp(v);
  return s === undefined ? dflt : /^[-+]?\d+$/.test(s) ? parseInt(s, 10) : NaN;
}
