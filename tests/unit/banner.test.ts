/** The first-start console banner: addresses a person can type, the admin named, demo plates that are allowed. */
import { consoleBanner, demoPlates, reachableAddresses } from '../../src/runtime/banner';
import { demoPasses } from '../../src/emulators/eposelok';

const ifaces: any = {
  lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }],
  eth0: [
    { address: '192.168.1.20', family: 'IPv4', internal: false },
    { address: 'fe80::1', family: 'IPv6', internal: false },
    { address: '2001:db8::20', family: 'IPv6', internal: false },
  ],
};

describe('console banner', () => {
  test("bound to every interface: the machine's own addresses, then 127.0.0.1; never <host>", () => {
    expect(reachableAddresses('0.0.0.0', ifaces)).toEqual(['192.168.1.20', '127.0.0.1']);
    expect(reachableAddresses('::', ifaces)).toEqual(['192.168.1.20', '[2001:db8::20]', '127.0.0.1']);
    expect(reachableAddresses('127.0.0.1', ifaces)).toEqual(['127.0.0.1']);
    const text = consoleBanner({
      version: '1.2.3',
      bind: '0.0.0.0',
      httpPort: 1880,
      mqtt: 'port 1883',
      demo: null,
      firstStart: { adminPassword: 'pw-1', lprPassword: 'lpr-1' },
      addresses: reachableAddresses('0.0.0.0', ifaces),
    });
    expect(text).not.toContain('<host>');
    expect(text).toContain('http://192.168.1.20:1880/dashboard');
    expect(text).toContain('http://127.0.0.1:1880/dashboard');
    expect(text).toMatch(/user admin, admin password: pw-1/);
  });

  test('demo mode lists residents of the emulated E-Poselok list (standard plates, not expired)', () => {
    const plates = demoPlates(demoPasses(), 3);
    expect(plates).toHaveLength(3);
    for (const p of plates) expect(p.plate).toMatch(/^[АВЕКМНОРСТУХ]\d{3}[АВЕКМНОРСТУХ]{2}\d{2,3}$/);
    const text = consoleBanner({ version: '1', bind: '127.0.0.1', httpPort: 1, mqtt: 'x', demo: { emulators: ['eposelok'], plates }, firstStart: null });
    expect(text).toMatch(/Demo residents to try/);
    for (const p of plates) expect(text).toContain(p.plate);
  });
});
