/**
 * `passthroughfs-virtiofsd`: the shared directory served to a VM over
 * virtio-fs, as a vhost-user backend taking virtiofsd's options
 * (virtiofsd-args.ts). The same protocol core and PassthroughFs as the host
 * mount; the transport is transport/vhost-user/.
 *
 * Life cycle, as virtiofsd's: stay in the foreground, listen, serve one
 * frontend, and exit 0 when it disconnects (the VM shut down or was
 * killed); SIGTERM/SIGINT stop waiting or serving and exit 0 too.
 */
import { statSync } from 'node:fs';
import { Server } from '../fuse/server.js';
import { createPassthroughFs, sessionOptionsFor } from '../passthrough/index.js';
import { checkCapPolicy, restrictServingThread } from '../passthrough/privileges.js';
import { serve } from '../transport/vhost-user/index.js';
import { UsageError } from './args.js';
import { openLogger, type Logger } from './logsink.js';
import { applyNofileLimit } from './rlimit.js';
import { version } from './version.js';
import { closeInspector, guardInspectorSignal, installDaemonSignals } from './signals.js';
import { VIRTIOFSD_USAGE, capabilitiesJson, parseVirtiofsArgs, type VirtiofsCommand } from './virtiofsd-args.js';

const NAME = 'passthroughfs-virtiofsd';

export async function virtiofsMain(argv: string[]): Promise<number> {
  let c;
  try {
    c = parseVirtiofsArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${NAME}: ${e.message}\nTry '${NAME} --help' for more information.\n`);
    return 2;
  }
  switch (c.cmd) {
    case 'help':
      process.stdout.write(`${VIRTIOFSD_USAGE}\n`);
      return 0;
    case 'version':
      process.stdout.write(`${NAME} ${version()}\n`);
      return 0;
    case 'capabilities':
      process.stdout.write(capabilitiesJson());
      return 0;
    case 'virtiofs':
      return run(c);
  }
}

async function run(c: VirtiofsCommand): Promise<number> {
  guardInspectorSignal();
  const fail = (m: string) => {
    process.stderr.write(`${NAME}: ${m}\n`);
    return 1;
  };
  let logger: Logger;
  try {
    logger = openLogger(c.logTo, c.logLevel === 'off' ? 'error' : c.logLevel);
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e));
  }
  // --log-level=off: nothing at all, errors included.
  const log = c.logLevel === 'off' ? () => undefined : logger.log;
  if (closeInspector()) log('warn', 'a Node inspector was open (--inspect in NODE_OPTIONS?); closed it: the daemon never exposes one');
  const stop = new AbortController();
  let server: Server;
  try {
    if (!statSync(c.fs.source).isDirectory()) return fail(`shared directory ${c.fs.source} is not a directory`);
    const nofile = applyNofileLimit(c.rlimitNofile);
    log('info', `RLIMIT_NOFILE: ${nofile.soft} (hard ${nofile.hard})`);
    checkCapPolicy(c.caps);
    const fs = createPassthroughFs(c.fs);
    const session = sessionOptionsFor(c.fs);
    session.capabilities = { ...session.capabilities, flockLocks: c.flock };
    server = new Server(fs, {}, { ...session, log, debug: c.logLevel === 'debug' });
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    log('error', m);
    logger.close();
    return fail(m);
  }
  process.chdir('/');
  installDaemonSignals({ stop: () => stop.abort(), reopenLogs: () => logger.reopen(), log });
  try {
    await restrictServingThread(c.caps, log);
    await serve({
      ...('socketPath' in c.listen ? { socketPath: c.listen.socketPath } : { listenFd: c.listen.fd }),
      ...(c.socketGroup !== undefined ? { socketGroup: c.socketGroup } : {}),
      ...(c.tag !== undefined ? { tag: c.tag } : {}),
      numRequestQueues: c.numRequestQueues,
      handler: server,
      log,
      signal: stop.signal,
      ownThread: true,
    });
    await server.end();
    log('info', 'the frontend disconnected; exiting');
    return 0;
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    log('error', m);
    await server.end().catch(() => undefined);
    process.stderr.write(`${NAME}: ${m}\n`);
    return 1;
  } finally {
    logger.close();
  }
}
