-- depends: 0005.api-keys
-- The market day's jobs (the close, report retention, and those added later): one row per job and day
-- it ran, written in the same transaction as the job's work. A job delivered twice, or sent again by a
-- clock catching up after a restart, finds its row and does nothing.

CREATE TABLE job_runs (
    job      text NOT NULL CHECK (job ~ '^[a-z][a-z0-9_]{0,39}$'),
    day      date NOT NULL,
    ran_at   timestamptz NOT NULL DEFAULT now(),
    outcome  bigint NOT NULL CHECK (outcome >= 0),  -- what the run did: closes recorded, reports deleted
    PRIMARY KEY (job, day)
);

-- Report retention deletes finished reports by age.
CREATE INDEX reports_finished ON reports (finished_at) WHERE status IN ('succeeded', 'failed');
