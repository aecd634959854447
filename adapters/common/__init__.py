"""What every adapter shares: OTLP attribute values, derived ids, vendor timestamps."""
