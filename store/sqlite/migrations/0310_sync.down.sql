DROP TABLE sync_alerts;
DROP TABLE sync_reconcile_runs;
DROP TABLE sync_push_log;
DROP TABLE sync_push_rounds;
DROP TABLE sync_inbox;
DROP TABLE sync_watermarks;
