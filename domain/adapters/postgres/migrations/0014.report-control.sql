-- depends: 0013.performance-pasts
-- Operators cancel a queued report or a dead letter (a terminal `cancelled`, purged by retention like the
-- other finished reports), and pause report processing: while the row exists, workers leave reports queued.
ALTER TABLE reports DROP CONSTRAINT reports_status_check;
ALTER TABLE reports ADD CONSTRAINT reports_status_check
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled'));

CREATE TABLE report_processing_pause (
    only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    paused_by  text NOT NULL,
    paused_at  timestamptz NOT NULL DEFAULT now()
);
