// The wasm-bindgen package (wasm/pkg, built by wasm/build.sh) against the native CLI.
// Run: node --test wasm/test/   (JCDETECT_BIN overrides the CLI path)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { nativeBin } from './native.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.join(here, '../pkg/jcdetect_wasm.js');
if (!existsSync(pkg)) throw new Error(`${pkg} missing: run wasm/build.sh`);
const { Detector } = createRequire(import.meta.url)(pkg);
const example = path.resolve(here, '../../tests/data/example.ndjson');

function native(args) {
  return execFileSync(nativeBin(), ['--quiet', ...args, example], { maxBuffer: 1 << 28 })
    .toString().split('\n').filter((l) => l).map((l) => JSON.parse(l));
}

for (const [config, args] of [[undefined, []], [{ format: 'ocsf' }, ['--format', 'ocsf']], [{ emit: 'all' }, ['--emit', 'all']]]) {
  test(`pushBatch on the example equals \`jcdetect ${args.join(' ')}\``, () => {
    const d = new Detector(config);
    const got = [...d.pushBatch(readFileSync(example, 'utf8')), ...d.flush()];
    const want = native(args);
    assert.ok(want.length > 0);
    assert.deepEqual(got, want);
    const stats = d.stats();
    assert.equal(stats.alerts_total, want.filter((r) => !(r.jcdetect && r.jcdetect.rules)).length);
    d.free();
  });
}

test('push line by line gives the same alerts, state carried across calls', () => {
  const d = new Detector({});
  const got = readFileSync(example, 'utf8').trim().split('\n').flatMap((l) => d.push(l));
  assert.deepEqual(got, native([]));
});

test('a stateful rule fires on the push that crosses its threshold', () => {
  const d = new Detector({ rules: { password_spray_from_ip: { threshold: 3 } } });
  const fail = (i) => JSON.stringify({
    id: `s${i}`, event_type: 'user_login_attempt', service: 'directory',
    timestamp: `2024-06-03T10:00:0${i}Z`, success: false,
    initiated_by: { type: 'user', username: `user${i}@example.com` },
    client_ip: '198.51.100.7',
  });
  const fired = [];
  for (let i = 0; i < 6; i++) fired.push(d.push(fail(i)).map((a) => a.rule.id));
  const first = fired.findIndex((ids) => ids.includes('password_spray_from_ip'));
  assert.ok(first >= 1, `fired ${JSON.stringify(fired)}`);
  assert.ok(fired.slice(0, first).every((ids) => !ids.includes('password_spray_from_ip')));
  assert.equal(d.stats().events, 6);
});

test('a bad config throws an Error whose message is JSON', () => {
  assert.throws(() => new Detector({ rules: { nope: {} }, format: 'xml' }), (e) => {
    assert.ok(e instanceof Error);
    const detail = JSON.parse(e.message);
    assert.equal(detail.error, 'config');
    assert.match(detail.message, /unknown rule `nope`/);
    assert.match(detail.message, /`format` must be/);
    return true;
  });
  assert.throws(() => new Detector({ state: { memory_mb: -1 } }), /"error":"config"/);
});

test('bad lines are reported by diagnostics(), not thrown', () => {
  const d = new Detector();
  assert.deepEqual(d.push('{not json'), []);
  const diags = d.diagnostics();
  assert.equal(diags.length, 1);
  assert.equal(diags[0].code, 'invalid_json');
  assert.equal(diags[0].line, 1);
  assert.deepEqual(d.diagnostics(), []);
  assert.equal(d.stats().diagnostics.invalid_json, 1);
});

test('snapshot and restore carry an attack across detectors; the bytes are the CLI\'s --state file', () => {
  const lines = readFileSync(example, 'utf8').trim().split('\n');
  const cut = Math.floor(lines.length / 2);
  const whole = new Detector({});
  const want = lines.flatMap((l) => whole.push(l));
  const a = new Detector({});
  const got = lines.slice(0, cut).flatMap((l) => a.push(l));
  const state = a.snapshot();
  assert.ok(state instanceof Uint8Array && state.length > 28);
  const b = new Detector({});
  assert.ok(b.restore(state) > 0);
  got.push(...lines.slice(cut).flatMap((l) => b.push(l)));
  assert.deepEqual(got, want);
  // The native CLI writes the same bytes after the whole example.
  const dir = mkdtempSync(path.join(tmpdir(), 'jcdetect-js-'));
  const file = path.join(dir, 's.bin');
  execFileSync(nativeBin(), ['--quiet', '--state', file, example]);
  assert.deepEqual(Buffer.from(whole.snapshot()), readFileSync(file));
  // A damaged state is refused with a JSON error, and the detector stays usable and fresh.
  const c = new Detector({});
  const bad = Uint8Array.from(state);
  bad[bad.length - 1] ^= 1;
  assert.throws(() => c.restore(bad), (e) => JSON.parse(e.message).kind === 'damaged');
  assert.deepEqual(Buffer.from(c.snapshot()), Buffer.from(new Detector({}).snapshot()));
  rmSync(dir, { recursive: true });
});

test('Sigma rules given in the options raise the CLI\'s alerts for `--rules`', () => {
  // The rule file tests/wasm_parity.rs also runs natively, under --wasm and in Fluent Bit.
  const rules = path.resolve(here, '../../tests/data/sigma/rules');
  const events = path.resolve(here, '../../tests/data/sigma/events.ndjson');
  const d = new Detector({ rules: { sigma: [readFileSync(path.join(rules, 'portal.yml'), 'utf8')] } });
  const got = [...d.pushBatch(readFileSync(events, 'utf8')), ...d.flush()];
  const want = execFileSync(nativeBin(), ['--quiet', '--rules', rules, events])
    .toString().split('\n').filter((l) => l).map((l) => JSON.parse(l));
  assert.deepEqual(got.map((a) => a.rule.id), ['portal_spray', 'admin_login_offsite']);
  assert.deepEqual(got, want);
  assert.equal(d.stats().alerts.portal_spray, 1);
  d.free();
  // A broken rule is refused with where it is.
  assert.throws(() => new Detector({ rules: { sigma: ['title: x\nlogsource: {product: jumpcloud}\nid: a\ndetection:\n  sel: {a|nope: 1}\n  condition: sel\n'] } }),
    (e) => /rules\.sigma\[0\]:5:\d+: unknown modifier `nope`/.test(e.message));
});
