-- Nothing changes here: version 6 renumbers SQLite's events by call (see
-- migrations/sqlite/0006_call_numbers.sql), whose table is its key. PostgreSQL keeps rows in
-- a heap, appended whatever their key, beside the (call_id, provider, seq) index; the version
-- is taken so that both logs number their schemas alike.
SELECT 1;
