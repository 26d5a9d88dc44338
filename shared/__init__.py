"""The pure Nostr core: no sockets, no asyncio, no SQL, no printing."""
