"""Role supervision shared by ``cpqsync run`` and the demo: child processes, stop signals."""
