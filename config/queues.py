"""Names shared by the sender (the report queue adapter) and the actor (`tasks.actors`).

The web process enqueues by name, so it never imports the actor module and its decorators.
"""

REPORTS_QUEUE = "reports"
GENERATE_REPORT_ACTOR = "generate_report"
