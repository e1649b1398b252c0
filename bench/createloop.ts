/**
 * Create client of the scale phase: makes DIR, then M empty files in it
 * (open O_CREAT|O_EXCL, close), going on past failures, and prints
 * {"ok": n, "errors": {"EMFILE": n, ...}, "ms": t} as JSON.
 * Usage: node dist/bench/createloop.js DIR M
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';

const [dir, mArg] = process.argv.slice(2);
const m = Number(mArg);
if (!dir || !(m > 0)) {
  process.stderr.write('usage: createloop DIR M\n');
  process.exit(2);
}

mkdirSync(dir);
const errors: Record<string, number> = {};
let ok = 0;
const t0 = performance.now();
for (let i = 0; i < m; i++) {
  try {
    closeSync(openSync(join(dir, `c${i}`), 'wx', 0o644));
    ok++;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    errors[code] = (errors[code] ?? 0) + 1;
  }
}
process.stdout.write(JSON.stringify({ ok, errors, ms: performance.now() - t0 }) + '\n');
