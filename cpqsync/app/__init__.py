"""The application layer: CLI, role wiring and supervision, operations, start-up checks."""
