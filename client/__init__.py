"""The Shield Mutual client library: relay pool, keystore, aid workflows."""
