"""The mutual aid vocabulary on Nostr: events <-> objects, validation, Markdown.

One module per thing people do: ``society`` (the ``mas-<slug>`` tag and NIP-72
definitions), ``request`` (NIP-99 aid requests) with ``helping`` (payments and actions)
and ``markdown`` (template and export), ``notes`` (announcement, syndication),
``comments`` (pledges, confirmations, updates), ``report`` (NIP-23 spending reports),
``vouch`` (NIP-32 vouches and champion attestations), ``capital`` (the facts a member
weighs, never a score) and ``parse`` (one dispatcher for mixed feeds). Builders return
unsigned templates; nothing here does I/O.
docs/PROTOCOL.md is the specification these modules implement.
"""
