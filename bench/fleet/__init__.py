"""`make fleet`: Folio on several hosts on one machine (network namespaces), behind HAProxy, under load.

net (namespaces, bridge) -> hosts (the db host's servers, the Procfile's processes, HAProxy) -> fleet (all of
it, cleaned up in a `finally`) -> the scenarios: coherence, faults (rolling restart, host loss), capacity.
"""
