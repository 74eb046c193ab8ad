/**
 * The iVMS-4200 access log source: the SQL Server table iVMS writes access events into (read by
 * src/devices/ivms-source.ts, configured by the ivms-sql node). Site variables GATEPOST_IVMS_HOST /
 * _PORT / _DATABASE / _TABLE / _USER / _PASSWORD / _ENCRYPT (flows/access-log.json); `gatepost doctor`
 * checks TCP and the login. Its emulator is a TDS server with the demo dataset (src/emulators/ivms-demo.ts).
 */
import type { DeviceModule } from '../driver';
import { demoSecret } from '../driver';

export const ivms: DeviceModule = {
  name: 'ivms',
  kind: 'ivms',
  label: { en: 'iVMS-4200 access log (SQL Server)', ru: 'Журнал доступа iVMS-4200 (SQL Server)' },
  envVars: ['GATEPOST_IVMS_HOST'],
  emulator: {
    name: 'ivms',
    description:
      'iVMS-4200 attlog on an emulated SQL Server (TDS 7.4; user $GATEPOST_IVMS_USER or "sa", password $GATEPOST_IVMS_PASSWORD or "Passw0rd!", database thirdparty, table dbo.attlog, demo data, a live row every 20 s; control API on the next free port)',
    start: async (o) => {
      const demo = await (
        await import('../../emulators/ivms-demo')
      ).startIvmsDemo({
        port: o.port,
        user: process.env.GATEPOST_IVMS_USER || 'sa',
        password: process.env.GATEPOST_IVMS_PASSWORD || 'Passw0rd!',
        timezone: process.env.GATEPOST_TZ || process.env.TZ || undefined,
        controlPort: 0,
      });
      return { url: `${demo.url} (control ${demo.emulator.controlUrl})`, close: () => demo.close() };
    },
    async demo() {
      const password = demoSecret();
      const demo = await (await import('../../emulators/ivms-demo')).startIvmsDemo({ user: 'gatepost', password, timezone: process.env.GATEPOST_TZ || process.env.TZ || undefined });
      return {
        emulator: demo,
        env: {
          GATEPOST_IVMS_HOST: '127.0.0.1',
          GATEPOST_IVMS_PORT: String(demo.emulator.port),
          GATEPOST_IVMS_DATABASE: 'thirdparty',
          GATEPOST_IVMS_TABLE: 'dbo.attlog',
          GATEPOST_IVMS_USER: 'gatepost',
          GATEPOST_IVMS_PASSWORD: password,
          GATEPOST_IVMS_ENCRYPT: 'false',
          // the example (examples/ivms-attlog.json) reads its own table of the same database
          GATEPOST_EXAMPLE_IVMS_HOST: '127.0.0.1',
          GATEPOST_EXAMPLE_IVMS_PORT: String(demo.emulator.port),
          GATEPOST_EXAMPLE_IVMS_TABLE: 'dbo.example_attlog',
          GATEPOST_EXAMPLE_IVMS_USER: 'gatepost',
          GATEPOST_EXAMPLE_IVMS_PASSWORD: password,
        },
      };
    },
  },
};
