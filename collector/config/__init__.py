"""Reading and checking collector.yaml: `collector.config.loader.load_config` is the entry point."""
