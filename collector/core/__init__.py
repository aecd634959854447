"""The core every stage builds on: component interfaces, pipeline data, errors and their status codes,
component status, self-metrics and the config value types. It imports only the wire formats."""
