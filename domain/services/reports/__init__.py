"""Reports: the web requests and reads them (`desk`), the worker runs and sweeps them (`runner`)."""
