"""The exporter helper's persistent sending queue and retry policy."""
