"""`cpqsync demo` (the whole local stack, driven and judged) and `cpqsync run` (role supervisor)."""
