/**
 * The conformance scenarios in a VM guest that mounts the share over
 * virtio-fs from passthroughfs-virtiofsd: every record the guest observes
 * through the share must equal the one the same scenario gives on a native
 * host directory (as conformance.test.ts demands of the host mount).
 *
 * The guest runs them all in one node process (run-scenarios.js; node is
 * slow under TCG, so one start only) and prints the records as JSON; the
 * native records are made here. Ctx.outside is the same path on both sides.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { ROOT, makeTempDir, removeTempDir } from './helpers.js';
import { guestScenarios, prepareOutside, runAll } from './conformance/run-scenarios.js';
import * as attrs from './conformance/attrs.js';
import * as misc from './conformance/misc.js';
import { passthroughfsBackend } from './vm/backends.js';
import { vmUnavailable, withGuest } from './vm/guest.js';

const TRUSTED = 'default capabilities: the daemon drops CAP_SYS_ADMIN, so the host refuses trusted.* xattrs (as with virtiofsd, and as on the host mount); --modcaps=+sys_admin keeps them';
const NO_DIRECT_MMAP = 'the guest kernel (6.1, FUSE 7.38) has no FUSE_DIRECT_IO_ALLOW_MMAP: a file opened with DIRECT_IO (--cache=never) cannot be mapped shared (ENODEV), as with virtiofsd';

/** Each daemon configuration, with its accepted differences (node:test todo: reported, not failing). */
const configs: { args: string[]; todo: Record<string, string> }[] = [
  { args: ['--cache=never', '--xattr'], todo: { [attrs.trustedXattr.name]: TRUSTED, [misc.execMmap.name]: NO_DIRECT_MMAP } },
  { args: ['--cache=always', '--xattr'], todo: { [attrs.trustedXattr.name]: TRUSTED } },
];

for (const { args, todo: TODO } of configs) {
  const spec = passthroughfsBackend(args);
  describe(`conformance in a guest, ${spec.name}`, { skip: vmUnavailable() ?? spec.unavailable(), timeout: 900_000 }, () => {
    let base = '';
    let shared = '';
    const outside = `/tmp/ptfs-vm-outside-${process.pid}`;
    const native: Record<string, unknown> = {};
    let guest: Record<string, unknown> = {};
    let output = '';

    before(async () => {
      base = makeTempDir('ptfs-vmconf-');
      fs.chmodSync(base, 0o755);
      shared = join(base, 'shared');
      fs.mkdirSync(shared, { mode: 0o755 });
      const nativeRoot = join(base, 'native');
      fs.mkdirSync(nativeRoot, { mode: 0o755 });
      prepareOutside(outside);
      Object.assign(native, await runAll(nativeRoot, outside));
      const r = await withGuest({ backend: spec.backend(shared), timeoutMs: 600_000 }, `
        mkdir "$SHARE/conf" && chmod 0755 "$SHARE" "$SHARE/conf"
        node ${ROOT}/dist/test/conformance/run-scenarios.js "$SHARE/conf" ${outside} > /tmp/records.json
        status=$?
        tail -c 4000 /tmp/records.json >&2
        echo "RECORDS $(cat /tmp/records.json | base64 -w0)"
        exit $status
      `);
      output = r.output;
      assert.equal(r.code, 0, r.output.slice(-4000));
      const m = /^RECORDS (\S+)$/m.exec(r.output);
      assert.ok(m, `no records in the guest's output: ${r.output.slice(-2000)}`);
      guest = JSON.parse(Buffer.from(m[1]!, 'base64').toString('utf8')) as Record<string, unknown>;
    });

    after(() => {
      fs.rmSync(outside, { recursive: true, force: true });
      removeTempDir(base);
    });

    for (const sc of guestScenarios()) {
      const todo = TODO[sc.name] ?? sc.todo;
      it(sc.name, todo ? { todo } : {}, () => {
        assert.ok(sc.name in guest, `the guest did not run it: ${output.slice(-500)}`);
        assert.deepEqual(guest[sc.name], native[sc.name], 'in the guest through virtio-fs (actual) vs native on the host (expected)');
      });
    }
  });
}
