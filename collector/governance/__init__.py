"""Content rules shared by the governance processor and the adapters that check content before
it leaves (the AITracer proxy's preflight): PII and secret patterns, masking, model allow-lists."""
