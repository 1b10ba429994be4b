DROP TABLE sync_members;
DROP TABLE sync_call_stats;
