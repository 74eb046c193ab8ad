/**
 * Versioned schema migrations (PRAGMA user_version). Append only: never edit a released
 * migration, add a new one with the next version. Times are epoch milliseconds (INTEGER).
 */
export interface Migration {
  version: number;
  name: string;
  up: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    up: `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);

-- Local mirror of E-Poselok's allowed lists. One row per (list, canonical plate, house).
CREATE TABLE mirror_passes (
  id INTEGER PRIMARY KEY,
  list TEXT NOT NULL,              -- 'AllowedList1' | 'AllowedList2'
  canonical TEXT NOT NULL,
  raw TEXT NOT NULL,
  digits TEXT,                     -- the 3-digit number of a standard plate, else NULL
  house TEXT NOT NULL DEFAULT '',
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  UNIQUE (list, canonical, house)
);
CREATE INDEX mirror_passes_canonical ON mirror_passes (canonical);
CREATE INDEX mirror_passes_digits ON mirror_passes (digits);

-- Guards' temporary passes: a full plate or digits only.
CREATE TABLE temp_passes (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('plate', 'digits')),
  raw TEXT NOT NULL,
  canonical TEXT,                  -- for kind = 'plate'
  digits TEXT,                     -- for kind = 'digits', and the number of a standard plate
  house TEXT NOT NULL DEFAULT '',
  note TEXT NOT NULL DEFAULT '',
  author TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  valid_from INTEGER NOT NULL,
  valid_to INTEGER NOT NULL,       -- inclusive end, epoch ms
  cancelled_at INTEGER,
  cancelled_by TEXT,
  CHECK (valid_to >= valid_from)
);
CREATE INDEX temp_passes_valid_to ON temp_passes (valid_to);
CREATE INDEX temp_passes_canonical ON temp_passes (canonical);
CREATE INDEX temp_passes_digits ON temp_passes (digits);

-- Every recognition, allowed, denied, repeated or rejected, kept for years.
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  camera TEXT,
  gate TEXT,
  direction TEXT,                  -- 'entry' | 'exit' | NULL
  plate_raw TEXT,
  canonical TEXT,
  digits TEXT,
  confidence REAL,
  decision TEXT NOT NULL,          -- 'allowed' | 'denied' | 'repeat' | 'rejected'
  source TEXT NOT NULL,            -- 'mirror' | 'temporary' | 'online' | 'manual' | 'none'
  reason TEXT NOT NULL DEFAULT '',
  policy TEXT,                     -- match policy that matched: 'exact' | 'ignore-region' | 'edit-distance'
  pass_ref TEXT,                   -- 'mirror:<id>' | 'temp:<id>' | 'online'
  house TEXT,
  latency_ms REAL,
  image TEXT,                      -- image reference (URL or file under the data dir)
  request_id TEXT,
  input TEXT                       -- the raw input (truncated) of a rejected message
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_canonical_ts ON events (canonical, ts);
CREATE INDEX events_digits_ts ON events (digits, ts);
CREATE INDEX events_gate_ts ON events (gate, ts);
CREATE INDEX events_decision_ts ON events (decision, ts);

-- Gate controller state, persisted for the fail-safe restart.
CREATE TABLE gate_state (
  gate TEXT PRIMARY KEY,
  state TEXT NOT NULL,             -- 'closed' | 'open' | 'held' | 'fault'
  since INTEGER NOT NULL,
  by TEXT,
  last_error TEXT,
  updated_at INTEGER NOT NULL
);

-- Every gate action: who asked what, and what the device said.
CREATE TABLE gate_actions (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  gate TEXT NOT NULL,
  command TEXT NOT NULL,           -- 'open' | 'hold' | 'release' | 'close' | 'restart-close' | 'restart-hold' | 'alarm'
  source TEXT NOT NULL,            -- 'decision' | 'user' | 'mqtt' | 'system'
  actor TEXT,                      -- user name, MQTT client id, event id
  result TEXT NOT NULL,            -- 'ok' | 'error'
  latency_ms REAL,
  error TEXT
);
CREATE INDEX gate_actions_gate_ts ON gate_actions (gate, ts);
CREATE INDEX gate_actions_ts ON gate_actions (ts);

-- E-Poselok sync runs.
CREATE TABLE sync_runs (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  added INTEGER NOT NULL DEFAULT 0,
  removed INTEGER NOT NULL DEFAULT 0,
  unchanged INTEGER NOT NULL DEFAULT 0,
  total INTEGER NOT NULL DEFAULT 0,
  duration_ms REAL,
  error TEXT,
  pending_confirm INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sync_runs_ts ON sync_runs (ts);
`,
  },
  {
    version: 2,
    name: 'event history filters by camera and source',
    up: `
CREATE INDEX events_camera_ts ON events (camera, ts);
CREATE INDEX events_source_ts ON events (source, ts);
CREATE INDEX temp_passes_created_at ON temp_passes (created_at);
`,
  },
  {
    version: 3,
    name: 'events found by requestId (fallback passages are recorded once)',
    up: `
CREATE INDEX events_request_id ON events (request_id) WHERE request_id IS NOT NULL;
`,
  },
  {
    version: 4,
    name: 'one access event for every credential: kind, person, credential (existing rows kept: plates, fallback passages by their reason)',
    up: `
ALTER TABLE events ADD COLUMN kind TEXT NOT NULL DEFAULT 'plate';  -- CREDENTIAL_KINDS of src/core/contracts.ts
ALTER TABLE events ADD COLUMN person_id TEXT;
ALTER TABLE events ADD COLUMN person_name TEXT;
ALTER TABLE events ADD COLUMN person_key TEXT;                     -- person_name in lower case (sqlite's lower() is ASCII only)
ALTER TABLE events ADD COLUMN credential TEXT;                     -- card number, QR code id, … (plates: canonical)
UPDATE events SET kind = 'fallback' WHERE substr(reason, 1, 10) = 'fallback: ';
-- partial: a plate insert (the hot path) updates no extra index; queries for other kinds add kind <> 'plate'
CREATE INDEX events_kind_ts ON events (kind, ts) WHERE kind <> 'plate';
CREATE INDEX events_person_ts ON events (person_id, ts) WHERE person_id IS NOT NULL;
`,
  },
  {
    version: 5,
    name: "iVMS-4200 access log: the rows as read (clean and raw text), each person's last passage, the doors",
    up: `
-- One row per iVMS attlog row (source = the ivms-sql config node, serial_no = attlog.serialNo);
-- id = the id of its access event in events. Text columns hold the repaired text, *_raw what iVMS stored.
CREATE TABLE ivms_rows (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  serial_no INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  auth_local TEXT,                 -- authDateTime as stored (site wall clock), NULL when the row had none
  time_missing INTEGER NOT NULL DEFAULT 0,
  direction TEXT,                  -- 'in' | 'out' | NULL (label not mapped)
  direction_raw TEXT,
  kind TEXT NOT NULL,              -- 'card' | 'face' | 'fingerprint'
  person_key TEXT,                 -- id:<employeeID> | name:<lower-case name> | card:<cardNo>
  person_name TEXT,
  person_name_raw TEXT,
  employee_id TEXT,
  card_no TEXT,
  door TEXT,
  door_raw TEXT,
  reader TEXT,
  reader_raw TEXT,
  device TEXT,
  device_raw TEXT,
  device_sn TEXT,
  verify_mode TEXT,
  ingested_at INTEGER NOT NULL,
  UNIQUE (source, serial_no)
);
CREATE INDEX ivms_rows_ts ON ivms_rows (ts);
CREATE INDEX ivms_rows_door_ts ON ivms_rows (door, ts);
-- covering: the work-time report reads (ts, direction) of each person's range from the index alone
CREATE INDEX ivms_rows_person_ts ON ivms_rows (person_key, ts, direction);

-- Each person's last passage (the who-is-inside summary reads this, not the whole log).
CREATE TABLE ivms_last (
  person_key TEXT PRIMARY KEY,
  id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  direction TEXT,
  door TEXT,
  person_name TEXT,
  employee_id TEXT,
  card_no TEXT,
  search_key TEXT NOT NULL DEFAULT ''  -- every spelling of the person's name, cards and IDs seen (lower case, char(1)-separated): the log's search
);

-- The doors seen, with the spelling iVMS stored.
CREATE TABLE ivms_doors (
  door TEXT PRIMARY KEY,
  door_raw TEXT,
  first_ts INTEGER NOT NULL,
  last_ts INTEGER NOT NULL
);
`,
  },
  {
    version: 8,
    name: 'alerts: settings, Telegram chats (verification, role, subscriptions), alert history, the delivery outbox',
    up: `
CREATE TABLE alert_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);  -- 'rules': AlertSettings JSON (src/core/alarms.ts)
CREATE TABLE alert_chats (
  chat_id INTEGER PRIMARY KEY,     -- Telegram chat id
  title TEXT NOT NULL DEFAULT '',  -- chat title or the user's name (shown, and the actor of its gate commands)
  state TEXT NOT NULL,             -- 'pending' (a code was sent) | 'verified' | 'revoked'
  role TEXT NOT NULL DEFAULT 'viewer',  -- 'admin' | 'guard' | 'viewer'
  types TEXT NOT NULL DEFAULT '[]',     -- JSON list of alert types / tags ('*': all)
  commands INTEGER NOT NULL DEFAULT 0,  -- /status and /open allowed (admin and guard only)
  quiet_from TEXT,                 -- 'HH:MM' quiet hours (non-critical alerts held), or NULL
  quiet_to TEXT,
  code_hash TEXT,                  -- sha256 of the pending verification code
  code_expires INTEGER,
  created_at INTEGER NOT NULL,
  verified_at INTEGER,
  verified_by TEXT,
  revoked_at INTEGER
);
CREATE TABLE alerts (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  type TEXT NOT NULL,
  severity TEXT NOT NULL,
  subject TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '',
  image BLOB
);
CREATE INDEX alerts_ts ON alerts (ts);
CREATE TABLE alert_outbox (
  id INTEGER PRIMARY KEY,          -- delivery order
  chat_id INTEGER NOT NULL,
  alert_id INTEGER,                -- NULL for a summary or a flow's message
  created_at INTEGER NOT NULL,
  text TEXT NOT NULL,
  image BLOB,                      -- JPEG: sent as a photo with the text as caption
  state TEXT NOT NULL DEFAULT 'pending',  -- 'pending' | 'sent' | 'failed' (refused by Telegram) | 'dropped' (too old)
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  done_at INTEGER
);
CREATE INDEX alert_outbox_pending ON alert_outbox (state, id);
`,
  },
  {
    version: 6,
    name: 'cameras: recording switch and pre/post-roll per camera, recorded clips with their upload state',
    up: `
CREATE TABLE camera_settings (
  name TEXT PRIMARY KEY,          -- the camera config node's name (one MQTT topic level)
  recording INTEGER,              -- 1 / 0; NULL = the node's default
  pre_roll INTEGER,               -- seconds; NULL = the node's default
  post_roll INTEGER,              -- seconds; NULL = the node's default
  updated_at INTEGER NOT NULL
);
CREATE TABLE camera_clips (
  id INTEGER PRIMARY KEY,
  camera TEXT NOT NULL,
  start INTEGER NOT NULL,         -- epoch ms
  end INTEGER NOT NULL,
  size INTEGER NOT NULL,          -- bytes
  file TEXT NOT NULL,             -- local MP4 (kept until retention removes it)
  upload TEXT NOT NULL DEFAULT 'local',  -- 'local' | 'queued' | 'uploading' | 'done' | 'failed' | 'dropped'
  remote_path TEXT,
  upload_error TEXT,
  removed INTEGER NOT NULL DEFAULT 0     -- 1 when retention deleted the local file
);
CREATE INDEX camera_clips_camera_start ON camera_clips (camera, start);
`,
  },
  {
    version: 9,
    name: 'people at the wicket: the person registry (cards, photos, face descriptors) and QR guest passes',
    up: `
CREATE TABLE people (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  name_key TEXT NOT NULL,          -- name in lower case (JS toLowerCase: sqlite's lower() is ASCII only)
  unit TEXT NOT NULL DEFAULT '',   -- house / flat, or department
  note TEXT NOT NULL DEFAULT '',
  access_points TEXT NOT NULL DEFAULT '',  -- comma list of gate / door ids; '' = every access point
  valid_from INTEGER,
  valid_to INTEGER,
  disabled INTEGER NOT NULL DEFAULT 0,
  author TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX people_name_key ON people (name_key);
CREATE TABLE person_cards (
  card_no TEXT PRIMARY KEY,        -- normalised (trimmed, upper case): one card, one person
  person_id INTEGER NOT NULL
);
CREATE INDEX person_cards_person ON person_cards (person_id);
CREATE TABLE person_photos (
  id INTEGER PRIMARY KEY,
  person_id INTEGER NOT NULL,
  mime TEXT NOT NULL,
  size INTEGER NOT NULL,
  bytes BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX person_photos_person ON person_photos (person_id);
CREATE TABLE person_faces (
  id INTEGER PRIMARY KEY,
  person_id INTEGER NOT NULL,
  photo_id INTEGER,
  descriptor BLOB NOT NULL,        -- 128 float32, little endian
  score REAL,
  created_at INTEGER NOT NULL
);
CREATE INDEX person_faces_person ON person_faces (person_id);
CREATE TABLE qr_passes (
  id INTEGER PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE, -- sha256 of the token text: the token itself is never stored
  pass_id INTEGER,                 -- temp_passes.id when bound to a temporary pass (its validity applies)
  person_id INTEGER,
  label TEXT NOT NULL DEFAULT '',
  access_points TEXT NOT NULL DEFAULT '',
  valid_from INTEGER NOT NULL,
  valid_to INTEGER NOT NULL,
  max_uses INTEGER NOT NULL DEFAULT 1,
  uses INTEGER NOT NULL DEFAULT 0,
  last_used_at INTEGER,
  author TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  revoked_by TEXT
);
CREATE INDEX qr_passes_pass ON qr_passes (pass_id);
CREATE INDEX qr_passes_valid_to ON qr_passes (valid_to);
`,
  },
  {
    version: 7,
    name: 'the durable FTP upload queue (issue 14): one row per file and target, kept after delivery as the record',
    up: `
CREATE TABLE uploads (
  id INTEGER PRIMARY KEY,          -- also the queue order within a target
  target TEXT NOT NULL,            -- the ftp-target config node id
  clip_id INTEGER,                 -- the camera's clip (ClipReady.clipId), null for other files
  camera TEXT,                     -- {camera} of the directory template
  file TEXT NOT NULL,              -- the local file (never deleted by the queue)
  remote_name TEXT NOT NULL,       -- the file name on the server
  size INTEGER,                    -- bytes, when known at enqueue
  ref_ts INTEGER NOT NULL,         -- the time the directory template's date is taken from (clip start)
  created_at INTEGER NOT NULL,
  state TEXT NOT NULL,             -- 'queued' | 'uploading' | 'done' | 'failed' | 'dropped'
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  remote_path TEXT,
  updated_at INTEGER NOT NULL
);
CREATE INDEX uploads_target_state ON uploads (target, state, id);
CREATE INDEX uploads_clip ON uploads (clip_id) WHERE clip_id IS NOT NULL;
CREATE INDEX uploads_updated ON uploads (updated_at);
`,
  },
];
