import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reproduceCommand } from '../reproduce.ts';

const argv = ['/usr/bin/node', '/x/dist/bin/cli.js', 'bench', 'compare', '--targets', 'ringfaas,limit', '--results-dir', '/tmp/scratch', '--rounds', '3', '--no-docs'];

test("a result's reproduce line drops where the run put its files and keeps what it measured", () => {
  assert.equal(reproduceCommand(argv, {}), 'ringfaas bench compare --targets ringfaas,limit --rounds 3');
  assert.equal(reproduceCommand(['node', 'cli.js', 'bench', 'burst', '--results-dir=/tmp/x', '--bursts', '9'], {}), 'ringfaas bench burst --bursts 9');
});

test('platform settings from the environment are part of the reproduce line; secrets and bench-overridden ones are not', () => {
  const env = {
    RINGFAAS_WARM_FIRST: '1',
    RINGFAAS_SUSTAINED_LOAD: 'off',
    RINGFAAS_CLUSTER_KEY: 'a-secret-cluster-key-of-enough-length',
    RINGFAAS_API_KEYS: 'k1',
    RINGFAAS_PORT: '9999',
    RINGFAAS_ROUTER_ID: "it's mine",
    PATH: '/usr/bin',
  };
  const line = reproduceCommand(argv, env);
  assert.match(line, /^RINGFAAS_[A-Z_]+=.* ringfaas bench compare /);
  assert.match(line, /(^| )RINGFAAS_WARM_FIRST=1 /);
  assert.match(line, /(^| )RINGFAAS_SUSTAINED_LOAD=off /);
  assert.match(line, /(^| )RINGFAAS_ROUTER_ID='it'\\''s mine' /);
  assert.doesNotMatch(line, /CLUSTER_KEY|a-secret|API_KEYS|RINGFAAS_PORT|PATH=/);
});
