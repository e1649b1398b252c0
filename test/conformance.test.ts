/**
 * Conformance: every scenario runs on a fresh native directory and on a fresh directory seen through
 * `passthroughfs mount`, and the two records must be equal (see conformance/harness.ts).
 * PTFS_NATIVE_ONLY=1 runs the scenarios natively only (no daemon), to check the expectations themselves.
 */
import { conformanceBlock } from './conformance/harness.js';
import * as names from './conformance/namespace.js';
import * as attrs from './conformance/attrs.js';
import * as data from './conformance/data.js';
import * as special from './conformance/special.js';
import * as misc from './conformance/misc.js';
import * as direct from './conformance/direct.js';
import * as writer from './conformance/writer.js';

const all = [...names.scenarios, ...attrs.scenarios, ...data.scenarios, ...special.lockScenarios, ...special.scenarios, ...misc.scenarios];

conformanceBlock('conformance, --cache=never (strict)', {
  args: ['--cache=never', '--xattr'],
  scenarios: [...all, ...attrs.xattrScenarios, misc.hostChanges, misc.negativeNotCached],
  todo: {
    [attrs.trustedXattr.name]: 'default capabilities: the daemon drops CAP_SYS_ADMIN, so the host refuses trusted.* xattrs (as with virtiofsd); --modcaps=+sys_admin keeps them',
  },
});

conformanceBlock('conformance, --modcaps=+sys_admin', {
  args: ['--cache=never', '--xattr', '--modcaps=+sys_admin'],
  scenarios: [attrs.trustedXattr],
});

conformanceBlock('conformance, non-root callers (-o allow_other,default_permissions)', {
  args: ['--cache=never', '--xattr', '-o', 'allow_other,default_permissions'],
  scenarios: special.nonRootScenarios,
});

// Without default_permissions in -o: the daemon must still not serve a non-root caller with root's rights.
conformanceBlock('conformance, non-root callers (-o allow_other only)', {
  args: ['--cache=never', '--xattr', '-o', 'allow_other'],
  scenarios: special.nonRootScenarios,
});

conformanceBlock('conformance, --cache=auto', {
  args: ['--cache=auto'],
  scenarios: [
    names.lookup, names.createOpen, names.mkdirRmdir, names.unlink, names.rename, names.link, names.symlink,
    names.readdirChanging, misc.access, misc.execMmap, attrs.setattr, attrs.timestamps, data.sparse, data.seekHoles,
    data.concurrentAppend, data.partialWrites, data.copy, data.parallelClients, names.names,
  ],
});

conformanceBlock('conformance, --cache=auto --negative-timeout=0', {
  args: ['--cache=auto', '--negative-timeout=0'],
  scenarios: [misc.negativeNotCached],
});

conformanceBlock('conformance, --writeback', {
  args: ['--cache=auto', '--writeback'],
  scenarios: [
    names.createOpen, names.unlink, attrs.setattr, attrs.timestamps, data.sparse, data.seekHoles, data.efbig,
    data.fallocateScenario, data.concurrentAppend, data.partialWrites, data.copy, data.parallelClients, misc.execMmap,
  ],
  todo: {
    // Kernel limits of the writeback cache, not of the daemon:
    [data.seekHoles.name]: 'writeback cache: the kernel sends FUSE_LSEEK without flushing dirty pages first, so the host sees no data yet',
    [data.efbig.name]: 'writeback cache: the kernel takes writes past the host\'s maximum file size into the page cache; EFBIG only surfaces at writeback',
  },
});

// Kernel FUSE passthrough: the kernel reads and writes the host files itself, one backing file
// per inode shared by all its opens.
conformanceBlock('conformance, --passthrough', {
  args: ['--cache=auto', '--passthrough'],
  scenarios: [
    names.createOpen, attrs.setattr, data.sparse, data.fallocateScenario, data.concurrentAppend, data.partialWrites,
    data.copy, data.parallelClients, misc.execMmap,
  ],
});

// O_DIRECT, honoured (--allow-direct-io), under every cache policy, the writeback cache and kernel passthrough.
for (const args of [['--cache=never'], ['--cache=auto'], ['--cache=always'], ['--cache=auto', '--writeback'], ['--passthrough']]) {
  conformanceBlock(`conformance, O_DIRECT (--allow-direct-io ${args.join(' ')})`, {
    args: ['--allow-direct-io', ...args],
    scenarios: direct.scenarios,
    todo: args[0] !== '--passthrough' ? {} : {
      // Under passthrough the kernel does the I/O on the host fd opened at open time, with that fd's flags.
      [direct.ddDirect.name]: 'passthrough: clearing O_DIRECT with fcntl (dd does it for a short last block) does not reach the host fd, so that block fails with EINVAL',
      [direct.directMixed.name]: 'passthrough: the kernel opens its backing file with the client\'s flags at open time, so toggling O_DIRECT with fcntl does not reach it',
    },
  });
}

// Writes by another user than the daemon's run with that user's identity (setuid/setgid clearing; reserved blocks
// in ext4.test.ts); page writes of an O_APPEND open land in place.
for (const args of [['--cache=never'], ['--cache=auto'], ['--cache=auto', '--writeback']]) {
  conformanceBlock(`conformance, writes by non-root callers (${args.join(' ')} -o allow_other)`, {
    args: [...args, '-o', 'allow_other'],
    scenarios: args[0] === '--cache=never' ? writer.scenarios : [...writer.scenarios, ...writer.cachedScenarios],
  });
}
