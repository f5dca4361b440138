// The benchmark function (as the seed's): answers an id generated once per container, so a
// client can tell which instance served it and whether it was new, and its own duration.
'use strict';
const { randomUUID } = require('node:crypto');

const instanceId = randomUUID();
const loadedAt = Date.now();

module.exports = async function handler() {
  const started = process.hrtime.bigint();
  const result = { instanceId, loadedAt };
  result.durationMs = Number(process.hrtime.bigint() - started) / 1e6;
  return result;
};
