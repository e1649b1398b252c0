/**
 * The conformance scenarios as a program, for clients that are not the test
 * process (a VM guest mounting the share over virtio-fs):
 *
 *   node run-scenarios.js ROOT OUTSIDE
 *
 * runs every scenario of `guestScenarios()` in a fresh directory under ROOT
 * and prints one JSON object, scenario name → record (or { thrown: message }).
 * OUTSIDE is Ctx.outside, made here with the hello.txt the harness puts
 * there; give the same path on both sides, since records may hold it.
 * Scenarios that reach the host side of the share (Ctx.host) are not among
 * them: a guest has no host side. Records are made JSON-safe by toJsonSafe,
 * which the comparing side applies to its own records too.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { Rec, Scenario } from './harness.js';
import * as names from './namespace.js';
import * as attrs from './attrs.js';
import * as data from './data.js';
import * as special from './special.js';
import * as misc from './misc.js';

/** The scenarios a guest runs: the host mount's main suite and the xattr ones. */
export function guestScenarios(): Scenario[] {
  return [...names.scenarios, ...attrs.scenarios, ...data.scenarios, ...special.lockScenarios, ...special.scenarios, ...misc.scenarios, ...attrs.xattrScenarios];
}

/** A record as JSON can carry it (bigints as strings with an n, undefined as null), the same on both sides. */
export function toJsonSafe(r: unknown): unknown {
  return JSON.parse(JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v === undefined ? null : v)));
}

export function prepareOutside(outside: string): void {
  fs.mkdirSync(outside, { recursive: true, mode: 0o755 });
  fs.writeFileSync(join(outside, 'hello.txt'), 'hello from outside\n');
}

/** Directory names as the harness makes them from scenario names. */
export function slug(name: string, i: number): string {
  return `${i}-${name.replace(/[^a-zA-Z0-9]+/g, '-').replace(/^-|-$/g, '')}`;
}

export async function runAll(root: string, outside: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const ctx = { outside, host: (): string => { throw new Error('no host side here'); } };
  const list = guestScenarios();
  for (let i = 0; i < list.length; i++) {
    const sc = list[i]!;
    const dir = join(root, slug(sc.name, i));
    fs.mkdirSync(dir, { mode: 0o755 });
    try {
      out[sc.name] = toJsonSafe((await sc.run(dir, ctx)) as Rec);
    } catch (e) {
      out[sc.name] = { thrown: e instanceof Error ? e.message : String(e) };
    }
  }
  return out;
}

const [root, outside] = process.argv.slice(2);
if (root && outside && process.argv[1]?.endsWith('run-scenarios.js')) {
  prepareOutside(outside);
  const result = await runAll(root, outside);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
