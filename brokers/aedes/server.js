#!/usr/bin/env node
// mqtt-harness launcher for the aedes MQTT broker (MQTT 3.1.1).
//
//   node server.js PORT [HOST]
//
// Listens on HOST (default 127.0.0.1) and PORT with aedes' defaults: in-memory
// persistence, anonymous clients allowed. The harness starts it from
// targets.yaml; docker-compose.yml runs it in a node image with HOST 0.0.0.0
// (the container's port is published on 127.0.0.1 only).
import net from 'node:net'
import { Aedes } from 'aedes'

const port = Number.parseInt(process.argv[2] ?? '', 10)
const host = process.argv[3] ?? '127.0.0.1'
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node server.js PORT [HOST]')
  process.exit(2)
}

const broker = await Aedes.createBroker()
const server = net.createServer(broker.handle)

// Protocol errors are the harness's business: log them, never crash.
broker.on('clientError', (client, err) => {
  console.error(`client error ${client?.id ?? '?'}: ${err.message}`)
})
broker.on('connectionError', (client, err) => {
  console.error(`connection error ${client?.id ?? '?'}: ${err.message}`)
})

server.on('error', (err) => {
  console.error(`aedes: ${err.message}`)
  process.exit(1)
})
server.listen(port, host, () => {
  console.error(`aedes ${broker.id} listening on ${host}:${port}`)
})

const stop = () => {
  server.close()
  broker.close(() => process.exit(0))
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
