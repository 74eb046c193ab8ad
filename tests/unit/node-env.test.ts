/** `${VAR}` in node properties and credentials (nodes/common/env.ts) and its use by gatepost-gate. */
import { textProp, credentialProp } from '../../nodes/common/env';
import { gateDefOf } from '../../nodes/gatepost-gate/gate-def';

describe('textProp / credentialProp', () => {
  test('text: trimmed; empty and unresolved ${VAR} are undefined', () => {
    expect(textProp('  main ')).toBe('main');
    expect(textProp('')).toBeUndefined();
    expect(textProp('${GATEPOST_NOT_SET}')).toBeUndefined();
    expect(textProp(42)).toBeUndefined();
  });
  test('credential: the value, ${VAR} from the environment, the fallback variable when empty', () => {
    const env = { RELAY_TOKEN: 's3cret', FALLBACK: 'fb' };
    expect(credentialProp('plain', 'FALLBACK', env)).toBe('plain');
    expect(credentialProp('${RELAY_TOKEN}', 'FALLBACK', env)).toBe('s3cret');
    expect(credentialProp('${MISSING}', 'FALLBACK', env)).toBeUndefined();
    expect(credentialProp('', 'FALLBACK', env)).toBe('fb');
    expect(credentialProp(undefined, undefined, env)).toBeUndefined();
  });
});

describe('gatepost-gate credentials from the environment', () => {
  const base = { id: 'n1', type: 'gatepost-gate', name: 'Main', z: '', gateId: 'main', kind: 'barrier', url: 'http://127.0.0.1:1', channel: '2', relay: '1', pulse: '6', timeout: '3' } as any;
  afterEach(() => {
    delete process.env.GP_TEST_RELAY_TOKEN;
    delete process.env.GP_TEST_SOKOL_PASSWORD;
  });
  test('a CL-Gate token given as ${VAR} is read from the environment', () => {
    process.env.GP_TEST_RELAY_TOKEN = 'tok-123';
    const def = gateDefOf({ ...base, driver: 'sarapul-relay' }, { token: '${GP_TEST_RELAY_TOKEN}' });
    expect(def.relay).toMatchObject({ driver: 'sarapul-relay', channel: 2, token: 'tok-123' });
  });
  test('a Sokol password given as ${VAR} is read from the environment; a literal one is kept', () => {
    process.env.GP_TEST_SOKOL_PASSWORD = 'pw-9';
    expect(gateDefOf({ ...base, kind: 'wicket', driver: 'sokol-door' }, { username: 'root', password: '${GP_TEST_SOKOL_PASSWORD}' }).relay).toMatchObject({ username: 'root', password: 'pw-9' });
    expect(gateDefOf({ ...base, kind: 'wicket', driver: 'sokol-door' }, { username: 'admin', password: 'literal' }).relay).toMatchObject({ username: 'admin', password: 'literal' });
  });
});

describe('intProp', () => {
  test('the default for empty and unresolved ${VAR}; NaN for text that is not an integer', () => {
    const { intProp } = require('../../nodes/common/env');
    expect(intProp('${GATEPOST_RELAY_CHANNEL}', 1)).toBe(1);
    expect(intProp('', 3)).toBe(3);
    expect(intProp(' 4 ', 1)).toBe(4);
    expect(intProp(2, 1)).toBe(2);
    expect(intProp('two', 1)).toBeNaN();
  });
});
