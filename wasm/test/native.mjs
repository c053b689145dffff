// Shared by the tests: where the native CLI is (the reference output). Not a test itself.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function nativeBin() {
  const candidates = [process.env.JCDETECT_BIN, path.join(root, 'target/release/jcdetect'),
    path.join(root, 'target/debug/jcdetect')].filter(Boolean);
  const bin = candidates.find((p) => existsSync(p));
  if (!bin) {
    throw new Error(`native jcdetect not found (tried ${candidates.join(', ')}): ` +
      'run `cargo build --release` in the repository root first');
  }
  return bin;
}
