// The C-ABI core module (wasm32-unknown-unknown: no imports) under Node's WebAssembly API:
// exports, byte parity with the native CLI, bad pointers, and Fluent Bit's call sequence
// (malloc the NUL-terminated record, call the filter, read the C string, free).
// Run: node --test wasm/test/   (after wasm/build.sh; JCDETECT_BIN overrides the CLI path)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { nativeBin } from './native.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const modulePath = path.join(here, '../target/wasm32-unknown-unknown/release/jcdetect_wasm.wasm');
const example = path.join(root, 'tests/data/example.ndjson');

function native(args) {
  return execFileSync(nativeBin(), ['--quiet', ...args], { maxBuffer: 1 << 28 });
}

function load() {
  if (!existsSync(modulePath)) throw new Error(`${modulePath} missing: run wasm/build.sh`);
  const mod = new WebAssembly.Module(readFileSync(modulePath));
  assert.deepEqual(WebAssembly.Module.imports(mod), [], 'the unknown-unknown module has no imports');
  const x = new WebAssembly.Instance(mod, {}).exports;
  const bytes = (packed) => {
    const p = BigInt.asUintN(64, packed);
    const ptr = Number(p & 0xffffffffn), len = Number(p >> 32n);
    return Buffer.from(new Uint8Array(x.memory.buffer, ptr, len));
  };
  const put = (buf) => {
    const ptr = x.alloc(buf.length);
    assert.notEqual(ptr, 0);
    new Uint8Array(x.memory.buffer, ptr, buf.length).set(buf);
    return ptr;
  };
  const call = (fn, buf, ...rest) => {
    const ptr = put(buf);
    const out = bytes(x[fn](ptr, buf.length, ...rest));
    x.dealloc(ptr, buf.length);
    return out;
  };
  // Feed in odd-sized chunks so partial lines cross calls, as a host reading a socket would.
  const run = (input, chunk = 4093) => {
    const parts = [];
    for (let i = 0; i < input.length; i += chunk) parts.push(call('jcdetect_process', input.subarray(i, i + chunk)));
    parts.push(bytes(x.jcdetect_flush()));
    return Buffer.concat(parts);
  };
  return { x, bytes, call, run };
}

test('every export of the ABI is there', () => {
  const { x } = load();
  for (const name of ['alloc', 'dealloc', 'malloc', 'free', 'jcdetect_init', 'jcdetect_set_time',
    'jcdetect_process', 'jcdetect_flush', 'jcdetect_diagnostics', 'jcdetect_stats', 'jcdetect_filter']) {
    assert.equal(typeof x[name], 'function', name);
  }
});

for (const [flags, args] of [[0, []], [1, ['--format', 'ocsf']], [2, ['--emit', 'all']], [3, ['--format', 'ocsf', '--emit', 'all']]]) {
  test(`jcdetect_process is byte-identical to \`jcdetect ${args.join(' ')}\``, () => {
    const { x, bytes, call, run } = load();
    if (flags) {
      const status = JSON.parse(call('jcdetect_init', Buffer.alloc(0), flags).toString());
      assert.equal(status.ok, true);
      assert.ok(status.state_bytes > 0);
    }
    const input = readFileSync(example);
    const got = run(input);
    assert.ok(got.length > 0);
    assert.equal(got.toString(), native([...args, example]).toString());
    const stats = JSON.parse(bytes(x.jcdetect_stats()).toString());
    assert.equal(stats.events, input.toString().trim().split('\n').length);
  });
}

test('a bad config is an error status; a null pointer is a diagnostic, not a trap', () => {
  const { x, bytes, call } = load();
  const status = JSON.parse(call('jcdetect_init', Buffer.from('[rules.nope]\n'), 0).toString());
  assert.equal(status.ok, false);
  assert.match(status.error, /unknown rule `nope`/);
  assert.equal(bytes(x.jcdetect_process(0, 100)).length, 0);
  assert.equal(bytes(x.jcdetect_process(0x7fff_fff0, 100)).length, 0);
  const diags = bytes(x.jcdetect_diagnostics()).toString().trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(diags.map((d) => d.code), ['null_input', 'bad_pointer']);
  assert.equal(bytes(x.jcdetect_diagnostics()).length, 0);
});

test('Fluent Bit call sequence: malloc, filter, read the C string, free', () => {
  const { x } = load();
  const cstr = (ptr) => {
    const mem = new Uint8Array(x.memory.buffer);
    let end = ptr;
    while (mem[end] !== 0) end++;
    return Buffer.from(mem.subarray(ptr, end)).toString();
  };
  const dup = (s) => {
    const b = Buffer.from(s + '\0');
    const p = x.malloc(b.length);
    new Uint8Array(x.memory.buffer, p, b.length).set(b);
    return [p, b.length - 1];
  };
  const outs = [];
  for (const line of readFileSync(example, 'utf8').trim().split('\n')) {
    const [tag, tagLen] = dup('jumpcloud.di');
    const [rec, recLen] = dup(line);
    const out = x.jcdetect_filter(tag, tagLen, 1717405200, 0, rec, recLen);
    outs.push(cstr(out));
    x.free(tag);
    x.free(rec);
  }
  const records = outs.map((o) => JSON.parse(o));
  assert.equal(records.length, outs.length);
  const fired = records.flatMap((r) => r.jcdetect.alerts);
  const nativeAlerts = native([example]).toString().trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(fired, nativeAlerts, 'the embedded alerts are the CLI alerts, in order');
  // A null record (Fluent Bit's failed copy) is dropped.
  assert.equal(cstr(x.jcdetect_filter(0, 0, 0, 0, 0, 10)), '');
});
