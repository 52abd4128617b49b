// A mechbus agency in JavaScript on Node.js with the `nats` npm package, written only from the
// published contract (docs/contract/). It connects as one agency with its nkey seed file, binds
// the durable pull consumer the hub made for it, and for each request publishes a delivery
// receipt and an institutional acknowledgement (JSON built by hand, valid per
// docs/contract/schemas/), with no Nats-Msg-Id header (the hub recognises a resend), waits for
// their PubAcks and only then acks the JetStream delivery.
//
//   node agency.js --server nats://127.0.0.1:4222 --agency ver.government \
//       --seed ver.government.nk --count 1 --timeout 60

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { connect, nkeyAuthenticator } from "nats";

const PREFIX = "mech.v1";
const STREAM = "MECHBUS";
const CLIENT = "mechbus-example-node/1.0";
// Requests that open a thread get a receipt and an acknowledgement; a recall or an update of a
// request gets neither.
const OPENING = new Set([
  "mech.request.protection_measure.v1",
  "mech.request.investigation.v1",
  "mech.request.information.v1",
  "mech.request.board_summons.v1",
  "mech.request.relocation.v1",
  "mech.request.implementation_meeting.v1",
]);

// The agency's durable consumer: "agency-" + its id with dots as dashes.
const durableName = (agency) => "agency-" + agency.replaceAll(".", "-");

// A message id derived from the request and the agency, so a redelivered request yields the
// same id again (absorbed by JetStream's duplicate window and the hub's ledger).
function fixedId(tag, requestId, agency) {
  const digest = createHash("sha256").update(`${requestId}\0${agency}`).digest("hex");
  return `${tag}-${digest.slice(0, 32)}`;
}

const now = () => new Date().toISOString(); // UTC, e.g. 2026-11-29T19:00:00.000Z

function reply(request, agency, type, id, data) {
  const message = {
    specversion: "1.0",
    id,
    type,
    source: agency,
    time: now(),
    datacontenttype: "application/json",
    correlationid: request.correlationid ?? request.id,
    causationid: request.id,
    data,
  };
  if (request.subject) message.subject = request.subject; // the case reference
  return message;
}

// Publish on the agency's own subject and wait for the PubAck. No Nats-Msg-Id: the stream's
// duplicate window is shared by every sender, so a header another agency could guess is one it
// could use first; a resend of the same bytes is recorded once.
async function publish(js, agency, message) {
  const kind = message.type.split(".")[2]; // mech.response.acknowledgement.v1 -> acknowledgement
  const subject = `${PREFIX}.from.${agency}.${kind}`;
  await js.publish(subject, new TextEncoder().encode(JSON.stringify(message)));
}

async function main() {
  const { values: args } = parseArgs({
    options: {
      server: { type: "string" },
      agency: { type: "string" },
      seed: { type: "string" },
      ca: { type: "string" },
      count: { type: "string", default: "1" },
      timeout: { type: "string", default: "60" },
      "official-role": { type: "string", default: "Dirección de Derechos Humanos" },
    },
  });
  for (const required of ["server", "agency", "seed"]) {
    if (!args[required]) {
      console.error(`--${required} is required`);
      return 2;
    }
  }
  const agency = args.agency;
  const count = Number(args.count);
  const deadline = Date.now() + Number(args.timeout) * 1000;

  const nc = await connect({
    servers: args.server.split(","),
    authenticator: nkeyAuthenticator(new TextEncoder().encode(readFileSync(args.seed, "utf8").trim())),
    name: CLIENT,
    // replies may come only under the agency's own inbox prefix (its permissions say so)
    inboxPrefix: `_INBOX.${agency}`,
    maxReconnectAttempts: 3,
    ...(args.ca ? { tls: { caFile: args.ca } } : {}),
  });
  const js = nc.jetstream();
  // bind to the consumer the hub created; an agency never creates or changes it
  const consumer = await js.consumers.get(STREAM, durableName(agency));
  let handled = 0;
  try {
    while (handled < count) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        console.error(`timed out after ${handled} of ${count} requests`);
        return 1;
      }
      const batch = await consumer.fetch({
        max_messages: 10,
        expires: Math.max(1000, Math.min(remaining, 2000)),
      });
      for await (const msg of batch) {
        const message = msg.json();
        if (OPENING.has(message.type)) {
          await publish(js, agency, reply(message, agency, "mech.response.delivery_receipt.v1",
            fixedId("rcpt", message.id, agency), { received_at: now(), client: CLIENT }));
          await publish(js, agency, reply(message, agency, "mech.response.acknowledgement.v1",
            fixedId("ack", message.id, agency), { official_role: args["official-role"] }));
          handled += 1;
          console.log(`acknowledged ${message.id} (${message.type})`);
        } else if (message.type === "mech.tracking.rejected.v1") {
          console.error(`rejected: ${message.data?.reason}: ${message.data?.detail}`);
        } else {
          console.log(`received ${message.type} ${message.id}`);
        }
        // ack the delivery only after our answers have their PubAcks; wait for the server
        await msg.ackAck();
      }
    }
  } finally {
    await nc.drain();
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err?.message ?? err);
    process.exit(1);
  },
);
