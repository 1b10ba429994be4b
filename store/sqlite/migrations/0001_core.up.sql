-- The audit log: every change made through the API or CLI (who, when, what, before, after).
CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    at          TIMESTAMP NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    resource    TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    before_json TEXT,
    after_json  TEXT,
    request_id  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_resource ON audit_log (resource, resource_id, at);
CREATE INDEX audit_log_at ON audit_log (at);
