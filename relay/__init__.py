"""The Shield Mutual relay: websockets server, ingest pipeline, policy and stores."""
