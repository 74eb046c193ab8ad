/**
 * Types shared across gatepost's domains. Pure TypeScript, no Node-RED, no I/O.
 * A domain module owns its logic; this file only fixes the shapes that cross module borders.
 */

// ---------- plates ----------
export type PlateLayout =
  | 'standard' // А123ВС77 / А123ВС777
  | 'taxi' // АВ12377
  | 'trailer' // АВ123477
  | 'moto' // 1234АВ77
  | 'police' // А123477
  | 'foreign' // anything else that looks like a plate: kept as it is
  | 'unknown';

export interface Plate {
  /** what came in */
  raw: string;
  /** the one comparable form: uppercase, the 12 Cyrillic letters as their Latin look-alikes, no separators */
  canonical: string;
  layout: PlateLayout;
  series?: string;
  number?: string;
  region?: string;
  /** the 3-digit number of a standard or taxi plate (what guards type), else null */
  digits: string | null;
}

export type MatchPolicyName = 'exact' | 'ignore-region' | 'edit-distance';
export interface MatchPolicy {
  ignoreRegion: boolean;
  /** 0 = off */
  maxEditDistance: number;
}

// ---------- passes ----------
export interface MirrorPass {
  id: number;
  list: string; // 'AllowedList1' | 'AllowedList2'
  canonical: string;
  raw: string;
  digits: string | null;
  house: string;
  firstSeen: number;
  lastSeen: number;
}

export interface TempPass {
  id: number;
  kind: 'plate' | 'digits';
  raw: string;
  canonical: string | null;
  digits: string | null;
  house: string;
  note: string;
  author: string;
  createdAt: number;
  validFrom: number;
  validTo: number; // inclusive, epoch ms
  cancelledAt: number | null;
  cancelledBy: string | null;
}

// ---------- decisions ----------
export type DecisionOutcome = 'allowed' | 'denied' | 'repeat' | 'rejected';
/** why: a local list (mirror / temporary), E-Poselok online, a guard (manual), the device that read the credential (device: a card/face controller decided), or nothing */
export type DecisionSource = 'mirror' | 'temporary' | 'online' | 'manual' | 'device' | 'none';
export const DECISION_OUTCOMES: readonly DecisionOutcome[] = ['allowed', 'denied', 'repeat', 'rejected'];
export const DECISION_SOURCES: readonly DecisionSource[] = ['mirror', 'temporary', 'online', 'manual', 'device', 'none'];

/** The answer of E-Poselok's online check; errors are 'unavailable', never 'allowed'. */
export interface OnlineResult {
  status: 'allowed' | 'denied' | 'unavailable' | 'skipped';
  latencyMs: number;
  error?: string;
}
/** What plate-check asks when a plate is in no local list (implemented by the E-Poselok client). */
export interface OnlineChecker {
  check(plate: Plate): Promise<OnlineResult>;
}

export interface Decision {
  /** event id in the store once recorded (0 before) */
  eventId: number;
  requestId?: string;
  ts: number;
  camera?: string;
  gate?: string;
  direction?: 'entry' | 'exit';
  plate: string; // canonical ('' for rejected input)
  raw: string;
  digits: string | null;
  confidence?: number;
  decision: DecisionOutcome;
  source: DecisionSource;
  reason: string;
  policy?: MatchPolicyName;
  pass?: { ref: string; kind: 'mirror' | 'temporary'; house: string; list?: string; validTo?: number };
  house?: string;
  latencyMs: number;
  image?: string;
  /**
   * Set on a passage that `gatepost-lpr` decided itself while gatepost was down and delivered
   * later on `gatepost/lpr/<camera>/fallback`: recorded as it was decided (original `ts`), never
   * decided again and never acted on. `relay`: what its relay said; `duplicate`: this delivery
   * was already recorded (`eventId` is the earlier event). Not a column: the recorded reason
   * starts with `fallback: ` and carries the relay result.
   */
  fallback?: { relay?: string; duplicate?: boolean };
}

// ---------- access events (every credential) ----------
/**
 * THE list of credential kinds of an access event. `plate` is a licence plate read (the plate
 * path); `fallback` a plate passage `gatepost-lpr` decided while gatepost was down; `manual` a
 * guard's decision. The events table, the REST API's `kind` filter and the dashboard's log use it.
 */
export const CREDENTIAL_KINDS = ['plate', 'card', 'face', 'fingerprint', 'qr', 'pin', 'manual', 'fallback', 'motion'] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];
export const isCredentialKind = (v: unknown): v is CredentialKind => (CREDENTIAL_KINDS as readonly unknown[]).includes(v);

/**
 * What an access event adds to the plate `Decision`: its credential kind and subject. The access
 * point is the Decision's `gate` (a gate or a door), the device its `camera` (a camera or a
 * reader). A plate decision carries none of these (kind `plate`, or `fallback` when it has
 * `fallback`): the plate path is unchanged.
 */
export interface AccessFields {
  kind?: CredentialKind;
  /** the person the credential belongs to (card, face, fingerprint, pin) */
  personId?: string;
  personName?: string;
  /** the credential itself when it is not a plate: card number, QR code id, … */
  credential?: string;
}
/** An access event as recorded and published on the hub bus ('event'). */
export type AccessEventPayload = Decision & AccessFields;

/** A passage of a credential other than a plate, as a reader / controller reports it (eventsOf(hub).recordAccess). */
export interface AccessInput {
  kind: Exclude<CredentialKind, 'plate' | 'fallback'>;
  ts: number;
  /** gate or door id */
  accessPoint?: string;
  /** the camera / reader / controller that read it */
  device?: string;
  direction?: 'entry' | 'exit';
  decision: DecisionOutcome;
  source: DecisionSource;
  reason: string;
  personId?: string;
  personName?: string;
  credential?: string;
  image?: string;
  requestId?: string;
  /** the reader's confidence (0..1), e.g. of a face match */
  confidence?: number;
}

// ---------- gates ----------
export type GateCommand = 'open' | 'hold' | 'release' | 'close';
export type GateStateName = 'closed' | 'open' | 'held' | 'fault';
export type GateKind = 'barrier' | 'wicket' | 'door';
/** 'flow': a command from a flow message that is neither a decision nor a user action; 'telegram': a verified Telegram chat (actor: the chat's name) */
export type CommandSourceKind = 'decision' | 'user' | 'mqtt' | 'system' | 'flow' | 'telegram';
export interface CommandSource {
  kind: CommandSourceKind;
  /** user name, MQTT client id, event id */
  actor?: string;
}
/** Published retained on gatepost/gate/<id>/state and on the hub bus as 'gate-state'. */
export interface GateStatePayload {
  gate: string;
  name: string;
  kind: GateKind;
  state: GateStateName;
  since: number;
  by: string | null;
  lastError: string | null;
  /** for 'open': when the pending close fires */
  closesAt?: number | null;
  /** null: not known yet (no probe or command has reached the device) */
  reachable?: boolean | null;
}

// ───────────────────────── Feature contracts (iVMS, cameras, uploads, alarms) ─────────────────────────
// Agreed once here so the features can be built side by side; each feature owns its services and
// may add fields, never rename these.

/** The attlog columns gatepost reads (the site maps them to its own column names). */
export const IVMS_COLUMNS = [
  'serialNo',
  'authDateTime',
  'authDate',
  'authTime',
  'direction',
  'deviceName',
  'deviceSN',
  'personName',
  'cardNo',
  'doorName',
  'readerName',
  'employeeID',
  'verifyMode',
] as const;
export type IvmsColumn = (typeof IVMS_COLUMNS)[number];

/** One iVMS attlog row as read from SQL Server: column-mapped, text exactly as stored (it may be mojibake). */
export interface IvmsRow {
  serialNo: number;
  /** authDateTime as the wall-clock time iVMS stored, 'YYYY-MM-DDTHH:MM:SS.mmm' with no zone (the site's time zone applies), or null */
  authLocal: string | null;
  authDate: string | null;
  authTime: string | null;
  direction: string | null;
  deviceName: string | null;
  deviceSN: string | null;
  personName: string | null;
  cardNo: string | null;
  doorName: string | null;
  readerName: string | null;
  employeeID: string | null;
  /** how the person was verified when the table has such a column (card / face / fingerprint …), else null */
  verifyMode: string | null;
}

/** The iVMS reader's state (`gatepost/ivms/state`, retained). */
export interface IvmsState {
  /** the ivms-sql config node's id (one per SQL Server source) */
  source: string;
  connected: boolean;
  lastSerial: number | null;
  /** ms between the newest row's time and when gatepost stored it (null before the first row) */
  lagMs: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  ts: number;
}

export type CameraPipeline = 'detect' | 'record' | 'live';
/** A camera's state (`gatepost/camera/<name>/status` carries online/offline + reason). */
export interface CameraState {
  camera: string;
  online: boolean;
  reason: string | null;
  recording: boolean;
  motion: boolean;
  pipelines: Partial<Record<CameraPipeline, { running: boolean; restarts: number; lastError: string | null }>>;
  ts: number;
}
/** Motion started or ended on a camera; `snapshot` is a JPEG at motion start. */
export interface CameraMotion {
  camera: string;
  on: boolean;
  ts: number;
  snapshot?: Buffer;
}
/** A full-resolution JPEG frame: at motion start and then about once a second while motion lasts (QR reading uses these). */
export interface CameraFrame {
  camera: string;
  ts: number;
  jpeg: Buffer;
}
/** A finished recording, to be uploaded to the camera's FTP target (`target`: the ftp-target config node id, or null). */
export interface ClipReady {
  clipId: number;
  camera: string;
  file: string;
  start: number;
  end: number;
  size: number;
  target: string | null;
}
export type UploadStateName = 'queued' | 'uploading' | 'done' | 'failed' | 'dropped';
/** An upload queue item changed state (`clipId` links it to the camera's clip). */
export interface UploadState {
  uploadId: number;
  clipId: number | null;
  state: UploadStateName;
  remotePath: string | null;
  error: string | null;
  ts: number;
  /** the ftp-target node id (added by the upload service) */
  target?: string;
  /** the clip's camera, when known */
  camera?: string | null;
}
/** An FTP target's queue (`gatepost/ftp/state`, retained). */
export interface FtpState {
  target: string;
  connected: boolean;
  queued: number;
  /** epoch ms of the oldest queued item, or null */
  oldest: number | null;
  lastError: string | null;
  ts: number;
  /** the ftp-target node's name, when it has one */
  name?: string | null;
}

export type AlarmSeverity = 'info' | 'warning' | 'critical';
/** An alarm raised by a feature (camera motion, iVMS after hours, FTP, people, flows); the alarm service also turns gate, E-Poselok and degraded alarms into its model. */
export interface FeatureAlarm {
  source: 'camera' | 'ivms' | 'ftp' | 'people' | 'flow';
  kind: string;
  severity: AlarmSeverity;
  /** what it is about: a camera, a person, a door … */
  subject: string;
  ts: number;
  message: string;
  /** a JPEG, e.g. a motion snapshot */
  image?: Buffer;
}
