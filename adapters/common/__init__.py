"""What every adapter shares: OTLP attribute values, derived ids, vendor timestamps and how
error messages show vendor values."""
