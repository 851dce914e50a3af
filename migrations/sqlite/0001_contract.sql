-- payrecon database contract (SPEC §3), SQLite flavour.
-- Amounts are TEXT holding the canonical decimal ("100.00"); times are TEXT
-- 'YYYY-MM-DD HH:MM:SS.fff' in the business time zone. Every statement is
-- IF NOT EXISTS so that an existing srb-layout database is completed, never altered.

CREATE TABLE IF NOT EXISTS user_info (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_type INTEGER NOT NULL DEFAULT 0,
  mobile TEXT NOT NULL DEFAULT '',
  password TEXT NOT NULL DEFAULT '',
  nick_name TEXT,
  name TEXT,
  id_card TEXT,
  email TEXT,
  openid TEXT,
  head_img TEXT,
  bind_status INTEGER NOT NULL DEFAULT 0,
  borrow_auth_status INTEGER NOT NULL DEFAULT 0,
  bind_code TEXT,
  integral INTEGER NOT NULL DEFAULT 0,
  status INTEGER NOT NULL DEFAULT 1,
  create_time TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  update_time TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  is_deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS uk_mobile ON user_info (mobile);
CREATE INDEX IF NOT EXISTS idx_user_info_bind_code ON user_info (bind_code);

CREATE TABLE IF NOT EXISTS user_account (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL DEFAULT 0,
  amount TEXT NOT NULL DEFAULT '0.00',
  freeze_amount TEXT NOT NULL DEFAULT '0.00',
  create_time TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  update_time TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  is_deleted INTEGER NOT NULL DEFAULT 0,
  version INTEGER NOT NULL DEFAULT 0,
  CONSTRAINT uk_user_id UNIQUE (user_id)
);

CREATE TABLE IF NOT EXISTS trans_flow (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL DEFAULT 0,
  user_name TEXT,
  trans_no TEXT NOT NULL DEFAULT '',
  trans_type INTEGER NOT NULL DEFAULT 0,
  trans_type_name TEXT,
  trans_amount TEXT,
  memo TEXT,
  create_time TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  update_time TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  is_deleted INTEGER NOT NULL DEFAULT 0,
  CONSTRAINT uk_trans_no UNIQUE (trans_no)
);
CREATE INDEX IF NOT EXISTS idx_trans_flow_user_id ON trans_flow (user_id);
CREATE INDEX IF NOT EXISTS idx_trans_flow_create_time ON trans_flow (create_time);

CREATE TABLE IF NOT EXISTS recharge_order (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  agent_bill_no TEXT NOT NULL,
  user_id INTEGER NOT NULL,
  bind_code TEXT NOT NULL,
  charge_amt TEXT NOT NULL,
  fee_amt TEXT NOT NULL DEFAULT '0.00',
  status INTEGER NOT NULL DEFAULT 0,
  version INTEGER NOT NULL DEFAULT 0,
  create_time TEXT NOT NULL,
  update_time TEXT NOT NULL,
  CONSTRAINT uk_agent_bill_no UNIQUE (agent_bill_no)
);
CREATE INDEX IF NOT EXISTS idx_recharge_order_user_id ON recharge_order (user_id);
CREATE INDEX IF NOT EXISTS idx_recharge_order_status ON recharge_order (status, update_time);

CREATE TABLE IF NOT EXISTS notify_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  agent_bill_no TEXT NOT NULL,
  bind_code TEXT,
  charge_amt TEXT,
  result_code TEXT,
  sign_ok INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  response_body TEXT,
  received_at TEXT NOT NULL,
  handled_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idx_notify_log_agent_bill_no ON notify_log (agent_bill_no);
CREATE INDEX IF NOT EXISTS idx_notify_log_received_at ON notify_log (received_at);

CREATE TABLE IF NOT EXISTS idempotency_record (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  source TEXT NOT NULL,
  seq TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status TEXT NOT NULL,
  response_body TEXT,
  locked_at TEXT,
  created_at TEXT NOT NULL,
  completed_at TEXT,
  expires_at TEXT,
  CONSTRAINT uk_source_seq UNIQUE (source, seq)
);
