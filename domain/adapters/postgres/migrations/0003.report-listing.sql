-- depends: 0002.trade-positions
-- Operators page through reports by status, newest first (the dead letters are status = 'failed').
CREATE INDEX reports_status_newest ON reports (status, created_at DESC, id DESC);
