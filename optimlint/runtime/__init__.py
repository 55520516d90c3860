"""The runtime companion: records training events from a real run (imports torch lazily)."""
