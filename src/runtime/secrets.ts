/**
 * Generated secrets of a gatepost installation, kept in <dataDir>/secrets.json (mode 0600):
 * Node-RED's credentialSecret, the session-signing key, the admin password's hash (password-hash.ts), the
 * runtime's internal MQTT account (admin role, used by the flows and the bridge) and the hashes
 * of the MQTT accounts. Plain passwords of people exist only once: in the first-start notice.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import { hashPasswordSync, verifyPasswordSync } from './password-hash';

export type MqttRole = 'admin' | 'operator' | 'lpr' | 'camera';
export const MQTT_ROLES: MqttRole[] = ['admin', 'operator', 'lpr', 'camera'];

export interface StoredAccount {
  username: string;
  hash: string;
  role: MqttRole;
}

export interface SecretsFile {
  version: 1;
  createdAt: string;
  credentialSecret: string;
  sessionSecret: string;
  admin: { username: string; hash: string };
  /** the runtime's own MQTT account (role admin); its password is needed in plain by the flows */
  internalMqtt: { username: string; password: string };
  mqttAccounts: StoredAccount[];
}

export interface SecretsResult {
  secrets: SecretsFile;
  file: string;
  /** true when this start created the file */
  created: boolean;
  /** passwords to print once (first start, or a password newly generated) */
  notice: { adminPassword?: string; lprUsername?: string; lprPassword?: string };
}

export function randomPassword(bytes = 12): string {
  // URL- and shell-safe, no look-alike ambiguity problems for copying from a console
  return crypto.randomBytes(bytes).toString('base64url');
}

function writeSecure(file: string, data: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(data, null, 2), { mode: 0o600 });
  fs.renameSync(tmp, file);
  fs.chmodSync(file, 0o600);
}

/**
 * Loads the secrets of dataDir, creating them on first start. `adminPassword` (from
 * GATEPOST_ADMIN_PASSWORD) replaces the stored admin hash when it does not match it.
 */
export function loadOrCreateSecrets(dataDir: string, opts: { adminPassword?: string } = {}): SecretsResult {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, 'secrets.json');
  const notice: SecretsResult['notice'] = {};
  let secrets: SecretsFile | null = null;
  let created = false;
  if (fs.existsSync(file)) {
    const raw = fs.readFileSync(file, 'utf8');
    try {
      secrets = JSON.parse(raw) as SecretsFile;
    } catch (err) {
      // never silently replace secrets: encrypted credentials would become unreadable
      throw new Error(`${file} is not valid JSON (${(err as Error).message}); fix or remove it by hand`);
    }
    if (!secrets?.credentialSecret || !secrets.sessionSecret || !secrets.admin?.hash || !secrets.internalMqtt?.password) {
      throw new Error(`${file} is incomplete; fix or remove it by hand`);
    }
    secrets.mqttAccounts = Array.isArray(secrets.mqttAccounts) ? secrets.mqttAccounts : [];
    try {
      if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
    } catch {
      /* best effort */
    }
  } else {
    created = true;
    const adminPassword = opts.adminPassword || randomPassword();
    if (!opts.adminPassword) notice.adminPassword = adminPassword;
    const lprPassword = randomPassword();
    notice.lprUsername = 'lpr';
    notice.lprPassword = lprPassword;
    secrets = {
      version: 1,
      createdAt: new Date().toISOString(),
      credentialSecret: crypto.randomBytes(32).toString('hex'),
      sessionSecret: crypto.randomBytes(32).toString('hex'),
      admin: { username: 'admin', hash: hashPasswordSync(adminPassword) },
      internalMqtt: { username: 'gatepost-internal', password: randomPassword(24) },
      mqttAccounts: [{ username: 'lpr', hash: hashPasswordSync(lprPassword), role: 'lpr' }],
    };
  }
  let dirty = created;
  if (!created && opts.adminPassword && !verifyPasswordSync(opts.adminPassword, secrets.admin.hash)) {
    secrets.admin.hash = hashPasswordSync(opts.adminPassword);
    dirty = true;
  }
  if (dirty) writeSecure(file, secrets);
  return { secrets, file, created, notice };
}
