"""Relay benchmark: mas-relay against strfry (``--strfry PATH``) and the PyPI ``nostr-relay``.

Four scenarios, each run against every relay found, one fresh relay subprocess and
temporary database per relay (and another fresh one for the connection count):

1. ingest      N pre-signed events over 4 pipelined connections (window of outstanding
               EVENTs per connection); events/s until the last OK.
2. query       M REQs of four typical shapes on the N-event store from 8 connections, one
               REQ in flight per connection; REQs/s and ms from REQ to EOSE.
3. fan-out     S subscribers (split over --procs worker processes) each hold a kind-1 + #t
               subscription; one publisher sends R events/s for T s with its send time in
               the content; delivery latency per (event, subscriber).
4. connections C idle websocket connections; relay RSS growth per connection.

Usage (from the repo root):
    python -m bench.relay [--quick] [--relays ours,strfry,nostr-relay] [--strfry PATH]
                          [--nostr-relay PATH] [--before DIR] [--profile DIR]
strfry defaults to $STRFRY_BIN, nostr-relay to $NOSTR_RELAY_BIN (else next to this python,
else on PATH). ``python -m bench.scenarios_scale`` runs issue 15's larger scenarios with
the same load generator. Only 127.0.0.1 is ever contacted. This is a benchmark that
prints figures, not a test.

One module per part: dataset, relays (the subprocesses), ingest, query, fanout,
connections (the scenarios), report (the tables), profiler (``--profile``), procfs (CPU
and RSS from /proc), script (what every bench script's command line shares).
"""
