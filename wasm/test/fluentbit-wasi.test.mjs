// The Fluent Bit module (wasip1, no SIMD) under Node's WASI: the config file is read from a
// preopened directory (Fluent Bit's `Accessible_Paths`) on the first call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { WASI } from 'node:wasi';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const modulePath = path.join(here, '../target/fluentbit/wasm32-wasip1/release/jcdetect_wasm.wasm');

const DELETE = '{"id":"1","event_type":"policy_delete","service":"directory","timestamp":"2024-05-01T10:00:00Z"}';
const LOGIN = '{"id":"2","event_type":"user_login_attempt","service":"directory","timestamp":"2024-05-01T10:00:01Z","success":true}';

function filterWith(toml) {
  if (!existsSync(modulePath)) throw new Error(`${modulePath} missing: run wasm/build.sh`);
  const dir = mkdtempSync(path.join(tmpdir(), 'jcdetect-wasi-'));
  if (toml !== undefined) writeFileSync(path.join(dir, 'jcdetect.toml'), toml);
  const filter = instanceWith({ '/etc/jcdetect': dir });
  return { filter, done: () => rmSync(dir, { recursive: true }) };
}

test('the config file in the preopened directory is applied', () => {
  const f = filterWith('[fluentbit]\noutput = "alerts"\n[rules.policy_deleted]\nseverity = "low"\n');
  assert.equal(f.filter(LOGIN), '', 'alerts mode drops events that fired nothing');
  const out = JSON.parse(f.filter(DELETE));
  assert.equal(out.jcdetect.alerts[0].rule.id, 'policy_deleted');
  assert.equal(out.jcdetect.alerts[0].event.risk_score, 21, 'the configured severity (low)');
  f.done();
});

test('without a config file the defaults run and every event comes out', () => {
  const f = filterWith(undefined);
  assert.deepEqual(JSON.parse(f.filter(LOGIN)).jcdetect.alerts, []);
  assert.equal(JSON.parse(f.filter(DELETE)).jcdetect.rules[0], 'policy_deleted');
  f.done();
});

// A module instance with these preopened directories, driven as Fluent Bit does (malloc,
// jcdetect_filter, read the C string, free): one record in, its output record out.
function instanceWith(preopens) {
  const wasi = new WASI({ version: 'preview1', preopens });
  const mod = new WebAssembly.Module(readFileSync(modulePath));
  const instance = new WebAssembly.Instance(mod, wasi.getImportObject());
  assert.equal(typeof instance.exports._initialize, 'function', 'a WASI reactor');
  wasi.initialize(instance);
  const x = instance.exports;
  return (record) => {
    const b = Buffer.from(record + '\0');
    const p = x.malloc(b.length);
    new Uint8Array(x.memory.buffer, p, b.length).set(b);
    const out = x.jcdetect_filter(0, 0, 1714557600, 0, p, b.length - 1);
    x.free(p);
    const mem = new Uint8Array(x.memory.buffer);
    let end = out;
    while (mem[end] !== 0) end++;
    return Buffer.from(mem.subarray(out, end)).toString();
  };
}

// Fluent Bit shows each Accessible_Paths directory under its own name: the module finds
// jcdetect.toml in the first one that has it, and writes its checkpoints (temporary file,
// then rename) where `[fluentbit] state` says; a new instance (a Fluent Bit restart) restores.
const failure = (i) => JSON.stringify({
  id: `f${i}`, event_type: 'user_login_attempt', service: 'directory', success: false,
  client_ip: '203.0.113.5', initiated_by: { type: 'user', username: `user${i}` },
  timestamp: `2024-05-01T09:30:${String(i * 3).padStart(2, '0')}Z`,
});

test('checkpoints go through WASI and a new instance restores them', () => {
  if (!existsSync(modulePath)) throw new Error(`${modulePath} missing: run wasm/build.sh`);
  const etc = mkdtempSync(path.join(tmpdir(), 'jcdetect-etc-'));
  const varDir = mkdtempSync(path.join(tmpdir(), 'jcdetect-var-'));
  writeFileSync(path.join(etc, 'jcdetect.toml'),
    '[fluentbit]\nstate = "/srv/jc-state/fb.state"\ncheckpoint_records = 2\n');
  const preopens = { '/opt/jc-etc': etc, '/srv/jc-state': varDir };
  let filter = instanceWith(preopens);
  const alerts = (out) => (out ? JSON.parse(out).jcdetect.alerts.map((a) => a.rule.id) : []);
  for (let i = 0; i < 12; i++) assert.deepEqual(alerts(filter(failure(i))), []);
  assert.ok(existsSync(path.join(varDir, 'fb.state')), 'checkpoint written');
  assert.ok(!existsSync(path.join(varDir, 'fb.state.tmp')), 'renamed into place');
  filter = instanceWith(preopens); // a restart
  const fired = [];
  for (let i = 12; i < 16; i++) fired.push(...alerts(filter(failure(i))));
  assert.deepEqual(fired, ['password_spray_from_ip']);
  rmSync(etc, { recursive: true });
  rmSync(varDir, { recursive: true });
});
