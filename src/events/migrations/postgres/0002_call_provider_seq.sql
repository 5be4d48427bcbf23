-- A call's events in the order `report` and `db export` read them, (call_id, provider, seq),
-- so the read can follow the index instead of sorting the whole log; still unique, so a
-- replayed event is a no-op. It replaces version 1's (call_id, seq, provider) index.
CREATE UNIQUE INDEX events_call_provider_seq ON events (call_id, provider, seq);
DROP INDEX events_call_seq;
