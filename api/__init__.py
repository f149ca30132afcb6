"""The faces of Anquan: the command line, the HTTP service and (later) chat adapters."""
