"""`make bench`: load figures for Folio, measured with wrk against one pinned Granian worker."""
