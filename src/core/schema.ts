/**
 * The one config schema helper: device driver configs, node configs and settings files are
 * described as a `Schema` (field → spec) and parsed with `parseConfig`. Values may come as text
 * (Node-RED properties, `${VAR}`-substituted environment values) and are converted; a missing
 * optional value takes its default; an invalid value is an error — never silently replaced by a
 * default or clamped. Pure TypeScript (src/core rules).
 */

interface Base<T> {
  /** an empty / missing value is an error (else the default, else undefined) */
  required?: boolean;
  default?: T;
  /** what the error messages call the field (default: its key) */
  label?: string;
}
export interface StringSpec extends Base<string> {
  type: 'string';
  max?: number;
  pattern?: RegExp;
  /** what `pattern` means, for the error message */
  patternText?: string;
}
export interface UrlSpec extends Base<string> {
  type: 'url';
}
export interface IntSpec extends Base<number> {
  type: 'int';
  min?: number;
  max?: number;
}
export interface NumberSpec extends Base<number> {
  type: 'number';
  /** exclusive lower bound */
  above?: number;
  min?: number;
  max?: number;
}
export interface BoolSpec extends Base<boolean> {
  type: 'bool';
}
export interface EnumSpec<V extends string = string> extends Base<V> {
  type: 'enum';
  values: readonly V[];
  /** compare case-insensitively (the value is stored as listed) */
  ignoreCase?: boolean;
}
export interface ObjectSpec extends Base<Record<string, string>> {
  type: 'string-map';
}
export type FieldSpec = StringSpec | UrlSpec | IntSpec | NumberSpec | BoolSpec | EnumSpec | ObjectSpec;
export type Schema = Record<string, FieldSpec>;

type ValueOf<F extends FieldSpec> = F extends { type: 'enum'; values: readonly (infer V)[] }
  ? V
  : F extends IntSpec | NumberSpec
    ? number
    : F extends BoolSpec
      ? boolean
      : F extends ObjectSpec
        ? Record<string, string>
        : string;
type Defined<F> = F extends { required: true } ? true : F extends { default: unknown } ? true : F extends BoolSpec ? true : false;
/** The parsed value of a schema: required fields and fields with a default are always present. */
export type Parsed<S extends Schema> = { [K in keyof S as Defined<S[K]> extends true ? K : never]: ValueOf<S[K]> } & {
  [K in keyof S as Defined<S[K]> extends true ? never : K]?: ValueOf<S[K]>;
};

/** An invalid configuration: every problem, in one message. */
export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    label?: string,
  ) {
    super(`${label ? `${label}: ` : ''}${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

const isEmpty = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');
const shown = (v: unknown) => (typeof v === 'string' ? `"${v.slice(0, 60)}"` : String(v));

function field(key: string, spec: FieldSpec, raw: unknown): { value?: unknown; error?: string } {
  const name = spec.label ?? key;
  if (isEmpty(raw)) {
    if (spec.required) return { error: `${name} is required` };
    if (spec.type === 'bool') return { value: spec.default ?? false };
    return { value: spec.default };
  }
  switch (spec.type) {
    case 'string': {
      const s = String(raw).trim();
      if (spec.max !== undefined && s.length > spec.max) return { error: `${name} must be at most ${spec.max} characters` };
      if (spec.pattern && !spec.pattern.test(s)) return { error: `${name} must be ${spec.patternText ?? `like ${spec.pattern}`} (got ${shown(s)})` };
      return { value: s };
    }
    case 'url': {
      const s = String(raw).trim();
      if (!/^https?:\/\/[^\s]+$/i.test(s)) return { error: `${name} must start with http:// or https:// (got ${shown(s)})` };
      return { value: s };
    }
    case 'int':
    case 'number': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw.trim().replace(',', '.')) : NaN;
      if (!Number.isFinite(n) || (spec.type === 'int' && !Number.isInteger(n))) return { error: `${name} must be ${spec.type === 'int' ? 'an integer' : 'a number'} (got ${shown(raw)})` };
      if (spec.type === 'number' && spec.above !== undefined && !(n > spec.above)) return { error: `${name} must be greater than ${spec.above} (got ${n})` };
      if (spec.min !== undefined && n < spec.min) return { error: `${name} must be at least ${spec.min} (got ${n})` };
      if (spec.max !== undefined && n > spec.max) return { error: `${name} must be at most ${spec.max} (got ${n})` };
      return { value: n };
    }
    case 'bool': {
      if (raw === true || raw === 'true' || raw === 1 || raw === '1') return { value: true };
      if (raw === false || raw === 'false' || raw === 0 || raw === '0') return { value: false };
      return { error: `${name} must be true or false (got ${shown(raw)})` };
    }
    case 'enum': {
      const s = String(raw).trim();
      const hit = spec.values.find((v) => (spec.ignoreCase ? v.toLowerCase() === s.toLowerCase() : v === s));
      if (hit === undefined) return { error: `${name} must be one of ${spec.values.join(', ')} (got ${shown(s)})` };
      return { value: hit };
    }
    case 'string-map': {
      let o: unknown = raw;
      if (typeof raw === 'string') {
        try {
          o = JSON.parse(raw);
        } catch {
          return { error: `${name} must be a JSON object, e.g. {"Authorization": "Bearer {token}"}` };
        }
      }
      if (!o || typeof o !== 'object' || Array.isArray(o)) return { error: `${name} must be a JSON object` };
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(o as Record<string, unknown>)) out[k] = String(v);
      return { value: out };
    }
  }
}

/** Parses `raw` against `schema`: the value, or every problem found. Unknown keys are ignored. */
export function parseConfig<S extends Schema>(schema: S, raw: Record<string, unknown> | null | undefined): { ok: true; value: Parsed<S> } | { ok: false; problems: string[] } {
  const src = raw ?? {};
  const value: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, spec] of Object.entries(schema)) {
    const r = field(key, spec, src[key]);
    if (r.error) problems.push(r.error);
    else if (r.value !== undefined) value[key] = r.value;
  }
  return problems.length ? { ok: false, problems } : { ok: true, value: value as Parsed<S> };
}

/** `parseConfig` that throws a ConfigError (labelled, e.g. with the driver name) on any problem. */
export function configOrThrow<S extends Schema>(schema: S, raw: Record<string, unknown> | null | undefined, label?: string): Parsed<S> {
  const r = parseConfig(schema, raw);
  if (!r.ok) throw new ConfigError(r.problems, label);
  return r.value;
}
