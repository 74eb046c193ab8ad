/** The login throttle (src/runtime/login-throttle.ts) with its own clock: delays, budgets, no lock-out. */
import { LoginThrottle, RULES } from '../../src/runtime/login-throttle';

function setup() {
  const clock = { t: 1_000_000 };
  const th = new LoginThrottle(() => clock.t);
  /** one attempt; the password is right when `ok` */
  const attempt = (address: string, username: string, ok: boolean, device?: string) => {
    const b = th.begin({ address, username, device });
    if (!b.ok) return b.retryAfterMs;
    b.finish(ok);
    return ok ? 'in' : 'wrong';
  };
  return { clock, th, attempt };
}

describe('login throttle', () => {
  test('per address: free attempts, then a doubling delay — never a lock: after the delay the right password works', () => {
    const { clock, attempt } = setup();
    for (let i = 0; i < RULES.address.free; i++) expect(attempt('10.0.0.1', 'admin', false)).toBe('wrong');
    expect(attempt('10.0.0.1', 'admin', false)).toBe('wrong'); // counted; the next one waits 1 s
    expect(attempt('10.0.0.1', 'admin', true)).toBe(1000);
    clock.t += 1000;
    expect(attempt('10.0.0.1', 'admin', false)).toBe('wrong');
    expect(attempt('10.0.0.1', 'admin', true)).toBe(2000);
    clock.t += 2000;
    expect(attempt('10.0.0.1', 'admin', true)).toBe('in');
    // the success cleared the address
    expect(attempt('10.0.0.1', 'admin', false)).toBe('wrong');
  });

  test('the delay is capped (an attacker cannot push it out for hours)', () => {
    const { clock, attempt } = setup();
    let last = 0;
    for (let i = 0; i < 40; i++) {
      const r = attempt('10.0.0.1', `u${i}`, false);
      if (typeof r === 'number') {
        last = r;
        clock.t += r;
      }
    }
    expect(last).toBe(RULES.address.maxMs);
  });

  test('per user across addresses: 40 addresses cannot make more than the budget of unchecked guesses per hour', () => {
    const { clock, attempt } = setup();
    let checked = 0;
    // each address makes 1 guess a minute for an hour: every address stays within its own free 5
    for (let minute = 0; minute < 60; minute++) {
      for (let a = 0; a < 40; a++) if (attempt(`10.1.0.${a}`, 'admin', false) === 'wrong') checked++;
      clock.t += 60_000;
    }
    // 2,400 attempts; only the user's free budget plus a handful of doubling-delay slots got checked
    expect(checked).toBeGreaterThanOrEqual(RULES.user.free);
    expect(checked).toBeLessThan(RULES.user.free + 15);
  });

  test("the real user gets in during an attack on the user name: a known browser at once, a known address despite the user's budget", () => {
    const { clock, attempt } = setup();
    // the guard logged in before from the office address, with a browser holding device cookie "dev1"
    expect(attempt('192.168.1.10', 'guard', true, 'dev1')).toBe('in');
    expect(attempt('192.168.1.20', 'guard', true)).toBe('in');
    // the attack: many addresses, the budget of "guard" is spent and its delay is long
    for (let a = 0; a < 60; a++) attempt(`10.2.0.${a}`, 'guard', false);
    const stranger = attempt('10.9.9.9', 'guard', true);
    expect(typeof stranger).toBe('number'); // a new browser on a new address waits…
    expect(stranger as number).toBeLessThanOrEqual(RULES.user.maxMs); // …a bounded time
    expect(attempt('192.168.1.10', 'guard', true, 'dev1')).toBe('in'); // known browser: at once
    expect(attempt('192.168.1.20', 'guard', true)).toBe('in'); // known address (HTTP Basic): at once
    clock.t += RULES.user.maxMs;
    expect(attempt('10.9.9.9', 'guard', true)).toBe('in'); // after the delay: in
  });

  test('parallel guesses are counted when they begin', () => {
    const { th } = setup();
    const started = [];
    for (let i = 0; i < 20; i++) {
      const b = th.begin({ address: '10.0.0.1', username: 'admin' });
      if (b.ok) started.push(b);
    }
    expect(started).toHaveLength(RULES.address.free + 1);
  });
});
