"""Config value types and the YAML document model that every component config is decoded with."""
