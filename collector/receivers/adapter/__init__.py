"""The one generic receiver that serves every adapter plugin: its config, its HTTP handling and its state store."""
