"""Data: embedded (offline) sources and full-profile loaders."""
