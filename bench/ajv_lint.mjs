// The fastest validator a peer uses: ajv (rudder-transformer, Typewriter). Reads NDJSON, JSON.parse
// per line, validates each track event against the schema `cdp plan export` wrote for it.
// node bench/ajv_lint.mjs SCHEMA_DIR LOG.ndjson  ->  {"messages": N, "invalid": N, "seconds": S}
import { readFileSync, createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(path.dirname(new URL(import.meta.url).pathname), "package.json"));
const Ajv2020 = require("ajv/dist/2020").default;
const addFormats = require("ajv-formats").default;

const [schemaDir, log] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(path.join(schemaDir, "manifest.json"), "utf8"));
const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);
ajv.addKeyword("x-pii"); ajv.addKeyword("x-cdp");
const byEvent = new Map();
for (const entry of manifest.schemas) {
  if (entry.kind !== "track" || (entry.version && entry.version !== 1)) continue;
  const schema = JSON.parse(readFileSync(path.join(schemaDir, entry.file), "utf8"));
  byEvent.set(entry.name, ajv.compile(schema));
}
const start = process.hrtime.bigint();
let messages = 0, invalid = 0;
const rl = createInterface({ input: createReadStream(log), crlfDelay: Infinity });
for await (const line of rl) {
  let msg;
  try { msg = JSON.parse(line); } catch { continue; }
  messages++;
  const v = byEvent.get(msg.event);
  if (v && !v(msg)) invalid++;
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(JSON.stringify({ messages, invalid, seconds }));
