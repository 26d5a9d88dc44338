// nostr-tools' NIP-77 (an implementation independent of ours), driven by tests/interop.
//
// Items are read from the first line of stdin as JSON: [[created_at, "<id hex>"], ...].
//
//   node nip77.mjs relay <ws url> <filter JSON>
//       NegentropySync against a relay (nostr-tools initiates, the relay responds);
//       prints {"have": [...], "need": [...], "error": null | reason} and exits.
// nostr-tools refuses a frame size limit of 0 (none); "default" means its own (60000).
//
//   node nip77.mjs initiator <frame size limit>
//       prints initiate() as hex, then for each hex line read prints
//       {"next": hex | null, "have": [...], "need": [...]}.
//   node nip77.mjs responder <frame size limit>
//       for each hex line read prints reconcile(line) as hex.
//
// A protocol error is printed as {"error": "..."} on its own line; the script exits 1.
import { createInterface } from 'node:readline'
import WebSocket from 'ws'
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import { nip77 } from 'nostr-tools'

const { Negentropy, NegentropyStorageVector, NegentropySync } = nip77

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()

async function readLine() {
  const { value, done } = await lines.next()
  if (done) process.exit(0)
  return value.trim()
}

function storage(items) {
  const vector = new NegentropyStorageVector()
  for (const [timestamp, id] of items) vector.insert(timestamp, id)
  vector.seal()
  return vector
}

function print(value) {
  process.stdout.write(JSON.stringify(value) + '\n')
}

async function viaRelay(url, filter, items) {
  useWebSocketImplementation(WebSocket)
  const relay = await Relay.connect(url)
  const have = []
  const need = []
  const error = await new Promise((resolve) => {
    const sync = new NegentropySync(relay, storage(items), filter, {
      onhave: (id) => have.push(id),
      onneed: (id) => need.push(id),
      onclose: (reason) => resolve(reason ?? null),
    })
    sync.start()
  })
  print({ have, need, error })
  relay.close()
  process.exit(0)
}

function negentropy(limit, items) {
  return limit === 'default' ? new Negentropy(storage(items)) : new Negentropy(storage(items), Number(limit))
}

async function initiator(limit, items) {
  const ne = negentropy(limit, items)
  print(await ne.initiate())
  for (;;) {
    const message = await readLine()
    const have = []
    const need = []
    const next = await ne.reconcile(message, (id) => have.push(id), (id) => need.push(id))
    print({ next: next || null, have, need })
  }
}

async function responder(limit, items) {
  const ne = negentropy(limit, items)
  // nostr-tools returns null for a reply that is only the version byte ("nothing to
  // add"): a responder sends that byte, so the other side learns the session is done.
  for (;;) print((await ne.reconcile(await readLine())) ?? '61')
}

const [mode, arg, filter] = process.argv.slice(2)
try {
  const items = JSON.parse(await readLine())
  if (mode === 'relay') await viaRelay(arg, JSON.parse(filter), items)
  else if (mode === 'initiator') await initiator(arg, items)
  else if (mode === 'responder') await responder(arg, items)
  else throw new Error(`unknown mode ${mode}`)
} catch (error) {
  print({ error: String(error) })
  process.exit(1)
}
