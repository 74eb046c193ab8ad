/**
 * Which camera serves which gate (and entry or exit): one parser for plate-check, frigate-lpr and
 * the GATEPOST_CAMERAS / GATEPOST_FRIGATE_CAMERAS variables of the shipped flow.
 */

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : typeof x === 'number' && Number.isFinite(x) ? String(x) : undefined);

export interface CameraRoute {
  gate?: string;
  direction?: 'entry' | 'exit';
}

/**
 * Parses a camera map: JSON (`{"cam1": "main"}` or `{"cam1": {"gate": "main", "direction": "entry"}}`)
 * or text `cam1=main:entry, cam2=wicket` (comma, semicolon or newline separated).
 * Throws an Error with a clear message on a malformed map.
 */
export function parseCameraMap(text: string | Record<string, unknown> | undefined | null): Map<string, CameraRoute> {
  const out = new Map<string, CameraRoute>();
  if (text === undefined || text === null) return out;
  // an unset ${VAR} of a shipped flow (Node-RED leaves the text when the variable is missing) = no map
  if (typeof text === 'string' && /^\s*\$\{\w+\}\s*$/.test(text)) return out;
  const dir = (d: unknown, cam: string): 'entry' | 'exit' | undefined => {
    if (d === undefined || d === null || d === '') return undefined;
    const s = String(d).trim().toLowerCase();
    if (s === 'entry' || s === 'in') return 'entry';
    if (s === 'exit' || s === 'out') return 'exit';
    throw new Error(`camera map: direction of "${cam}" must be entry or exit (got "${String(d)}")`);
  };
  let obj: Record<string, unknown> | undefined;
  if (typeof text === 'object') obj = text;
  else if (text.trim().startsWith('{')) {
    try {
      obj = JSON.parse(text);
    } catch {
      throw new Error('camera map: invalid JSON');
    }
    if (!isObj(obj)) throw new Error('camera map: JSON must be an object');
  }
  if (obj) {
    for (const [cam, v] of Object.entries(obj)) {
      if (typeof v === 'string') out.set(cam, { gate: v || undefined });
      else if (isObj(v)) out.set(cam, { gate: str(v.gate), direction: dir(v.direction, cam) });
      else throw new Error(`camera map: entry "${cam}" must be a gate id or {gate, direction}`);
    }
    return out;
  }
  for (const part of String(text).split(/[,;\n]/)) {
    const item = part.trim();
    if (!item) continue;
    const m = /^([^=\s]+)\s*=\s*([^:\s]*)\s*(?::\s*(\S+))?$/.exec(item);
    if (!m) throw new Error(`camera map: cannot read "${item}" (expected camera=gate[:entry|exit])`);
    out.set(m[1], { gate: m[2] || undefined, direction: dir(m[3], m[1]) });
  }
  return out;
}
