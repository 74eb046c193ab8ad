/**
 * The E-Poselok service (list download + online check; the client is src/devices/eposelok-client.ts,
 * configured by the e-poselok-config node). Site variables GATEPOST_EPOSELOK_NAME / _TOKEN / _CAMID /
 * _LIST_URL / _CHECK_URL; the device monitor probes the list URL's origin.
 */
import type { DeviceModule } from '../driver';
import { demoSecret } from '../driver';

export const eposelok: DeviceModule = {
  name: 'eposelok',
  kind: 'eposelok',
  label: { en: 'E-Poselok', ru: 'E-Poselok' },
  envVars: ['GATEPOST_EPOSELOK_LIST_URL', 'GATEPOST_EPOSELOK_CHECK_URL', 'GATEPOST_EPOSELOK_NAME'],
  envDevice: (env) => (env.GATEPOST_EPOSELOK_LIST_URL ? { id: 'eposelok', kind: 'eposelok', url: env.GATEPOST_EPOSELOK_LIST_URL } : undefined),
  emulator: {
    name: 'eposelok',
    description: 'E-Poselok list + online check (name $GATEPOST_EPOSELOK_NAME or "demo", token $GATEPOST_EPOSELOK_TOKEN or "secret", list file $GATEPOST_EPOSELOK_PASSES or the demo list)',
    start: async (o) =>
      (await import('../../emulators/eposelok')).startEposelokEmulator({
        port: o.port,
        name: process.env.GATEPOST_EPOSELOK_NAME || undefined,
        token: process.env.GATEPOST_EPOSELOK_TOKEN || undefined,
        passesFile: process.env.GATEPOST_EPOSELOK_PASSES || undefined,
      }),
    async demo() {
      const token = demoSecret();
      const emulator = await (await import('../../emulators/eposelok')).startEposelokEmulator({ token, camId: 'demo-cam', name: 'demo' });
      return {
        emulator,
        env: {
          GATEPOST_EPOSELOK_NAME: emulator.settlement,
          GATEPOST_EPOSELOK_TOKEN: token,
          GATEPOST_EPOSELOK_CAMID: 'demo-cam',
          GATEPOST_EPOSELOK_LIST_URL: emulator.listUrl,
          GATEPOST_EPOSELOK_CHECK_URL: emulator.checkUrl,
        },
      };
    },
  },
};
