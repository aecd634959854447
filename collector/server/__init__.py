"""What every listener shares: hardened HTTP listeners, TLS, input limits, auth guards, rate limits,
request bodies and the retry window; receivers and extensions build on it."""
