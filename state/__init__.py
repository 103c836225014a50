"""The catalog and posted-state store, and the pure rules that feed it."""
