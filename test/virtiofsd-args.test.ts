/** virtiofsd's command line as passthroughfs-virtiofsd reads it: what libvirt and QEMU users pass. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../src/cli/args.js';
import { capabilitiesJson, parseVirtiofsArgs, type VirtiofsCommand } from '../src/cli/virtiofsd-args.js';

function parsed(argv: string[]): VirtiofsCommand {
  const c = parseVirtiofsArgs(argv);
  assert.equal(c.cmd, 'virtiofs');
  return c as VirtiofsCommand;
}

describe('passthroughfs-virtiofsd arguments', () => {
  it('libvirt\'s invocation: --fd=N --shared-dir DIR --cache always --xattr', () => {
    const c = parsed(['--fd=3', '--shared-dir', '/srv/share', '--cache', 'always', '--xattr']);
    assert.deepEqual(c.listen, { fd: 3 });
    assert.equal(c.fs.source, '/srv/share');
    assert.equal(c.fs.cache, 'always');
    assert.equal(c.fs.xattr, true);
    assert.equal(c.fs.readdirplus, true);
    assert.equal(c.fs.inodeFileHandles, 'prefer');
    assert.equal(c.fs.announceSubmounts, true);
    assert.equal(c.numRequestQueues, 1);
    assert.equal(c.logLevel, 'info');
  });

  it('QEMU docs\' invocation and the = forms', () => {
    const c = parsed(['--socket-path=/tmp/vfsd.sock', '--shared-dir=/srv', '--cache=never', '--socket-group=kvm', '--tag=myfs', '--num-request-queues=4']);
    assert.deepEqual(c.listen, { socketPath: '/tmp/vfsd.sock' });
    assert.equal(c.fs.cache, 'never');
    assert.equal(c.fs.readdirplus, false, 'cache=never turns readdirplus off, as virtiofsd');
    assert.equal(c.socketGroup, 'kvm');
    assert.equal(c.tag, 'myfs');
    assert.equal(c.numRequestQueues, 4);
  });

  it('the legacy -o form', () => {
    const c = parsed(['--socket-path', 's', '-o', 'source=/srv,cache=none,no_xattr,no_flock,no_posix_lock,writeback', '-d']);
    assert.equal(c.fs.source, '/srv');
    assert.equal(c.fs.cache, 'never');
    assert.equal(c.fs.xattr, false);
    assert.equal(c.flock, false);
    assert.equal(c.fs.writeback, true);
    assert.equal(c.logLevel, 'debug');
    const d = parsed(['--socket-path', 's', '-osource=/srv,xattr,log_level=warn', '-f']);
    assert.equal(d.fs.xattr, true);
    assert.equal(d.logLevel, 'warn');
  });

  it('flags that have their effect: announce-submounts, inode file handles, rlimit, modcaps, syslog, readdirplus, direct io', () => {
    const c = parsed(['--fd', '4', '--shared-dir', '/s', '--no-announce-submounts', '--inode-file-handles=mandatory',
      '--rlimit-nofile', '4096', '--modcaps=-mknod', '--syslog', '--no-readdirplus', '--allow-direct-io', '--thread-pool-size=0',
      '--sandbox=none', '--seccomp', 'none', '--log-level=off']);
    assert.equal(c.fs.announceSubmounts, false);
    assert.equal(c.fs.inodeFileHandles, 'mandatory');
    assert.equal(c.rlimitNofile, 4096);
    assert.equal(c.logTo.to, 'syslog');
    assert.equal(c.fs.readdirplus, false);
    assert.equal(c.fs.allowDirectIo, true);
    assert.equal(c.logLevel, 'off');
    assert.equal(parsed(['--fd', '4', '--shared-dir', '/s', '--inode-file-handles']).fs.inodeFileHandles, 'prefer');
    assert.equal(parsed(['--fd', '4', '--shared-dir', '/s', '--readonly']).fs.readOnly, true);
    assert.equal(parsed(['--fd', '4', '--shared-dir', '/s']).fs.readOnly, false);
  });

  it('refuses by name what it does not implement, and bad values', () => {
    const bad: [string[], RegExp][] = [
      [['--posix-acl'], /--posix-acl: POSIX ACL support not implemented/],
      [['--xattrmap', ':map::user.virtiofs.:'], /--xattrmap: xattr name mapping not implemented/],
      [['--translate-uid', 'map:0:1000:1'], /--translate-uid: uid translation not implemented/],
      [['--migration-mode=file-handles'], /migration not implemented/],
      [['--sandbox', 'namespace'], /--sandbox=namespace: not implemented/],
      [['--sandbox=chroot'], /--sandbox=chroot/],
      [['--seccomp=kill'], /--seccomp=kill: not implemented/],
      [['--thread-pool-size', '8'], /thread pool is not implemented/],
      [['-o', 'posix_lock'], /POSIX locks on host files are not implemented/],
      [['-o', 'bogus'], /-o bogus: unknown or unsupported option/],
      [['--cache=sometimes'], /--cache must be one of/],
      [['--tag', 'x'.repeat(37)], /--tag must be 1 to 36 bytes/],
      [['--num-request-queues=0'], /1 to 64/],
      [['--rlimit-nofile=10'], /at least 128/],
      [['--inode-file-handles=always'], /--inode-file-handles must be one of/],
      [['--modcaps=-setuid'], /CAP_SETUID cannot be dropped/],
      [['--frobnicate'], /unknown option "--frobnicate"/],
    ];
    for (const [extra, re] of bad) {
      assert.throws(() => parseVirtiofsArgs(['--socket-path=s', '--shared-dir=/s', ...extra]), (e: unknown) => e instanceof UsageError && re.test(e.message), extra.join(' '));
    }
    assert.throws(() => parseVirtiofsArgs(['--socket-path=s']), /--shared-dir \(or -o source=DIR\) is required/);
    assert.throws(() => parseVirtiofsArgs(['--shared-dir=/s']), /exactly one of --socket-path and --fd/);
    assert.throws(() => parseVirtiofsArgs(['--shared-dir=/s', '--fd=3', '--socket-path=s']), /exactly one of/);
  });

  it('--print-capabilities prints the vhost-user backend JSON', () => {
    assert.deepEqual(parseVirtiofsArgs(['--print-capabilities']), { cmd: 'capabilities' });
    assert.deepEqual(JSON.parse(capabilitiesJson()), { type: 'fs', features: ['separate-options'] });
  });
});
