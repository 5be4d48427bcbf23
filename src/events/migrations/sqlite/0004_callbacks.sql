-- Call-backs booked by `callback` nodes, for agents or a dialler to make (see docs/events.md).
-- `number` is the real number to call, kept plain on purpose: the one exception to
-- --caller-numbers. `db prune` deletes call-backs booked before its cut-off.
CREATE TABLE callbacks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_ms  INTEGER NOT NULL,
    call_id     TEXT    NOT NULL,
    provider    TEXT    NOT NULL,
    flow        TEXT    NOT NULL,
    number      TEXT    NOT NULL,
    queue       TEXT    NOT NULL,
    language    TEXT    NOT NULL,
    told_wait_s INTEGER,
    time_window TEXT,
    timezone    TEXT,
    status      TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'claimed', 'done')),
    claimed_by  TEXT,
    claimed_ms  INTEGER,
    done_ms     INTEGER,
    -- A replayed webhook books once.
    UNIQUE (call_id, provider)
);
-- The pending list of a queue, oldest first.
CREATE INDEX callbacks_status_queue ON callbacks (status, queue, created_ms);
-- Retention.
CREATE INDEX callbacks_created ON callbacks (created_ms);
