DROP INDEX sync_inbox_pending;
