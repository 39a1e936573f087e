"""The composition root: the only place that builds adapters, once per process, by role.

`web.open_web` is the gateway's lifespan, `worker.open_worker` the Dramatiq worker's,
`feed.open_quote_feed` the development quote feed's, and `release.migrate` the Procfile's release
step. Each is made of the small parts in `resources`, `reports` and `fleet`; a role wires only what
it uses (the PDF stack, for one, is imported by the worker's builder alone).
"""
