/**
 * The daemon's signal dispositions, chosen one by one: a root daemon must not
 * let a signal open a way in or leave a dead mount behind.
 *
 * - SIGUSR1 would make Node open its inspector on 127.0.0.1:9229, where any
 *   local user could connect and run code as the daemon (root). A listener of
 *   our own keeps Node from doing that; it must never be removed, since
 *   removing it restores the default action. bin/passthroughfs.js installs it
 *   before loading anything else, and every daemon entry calls this again.
 * - SIGUSR2 and SIGQUIT would kill the daemon (SIGQUIT with a core dump that
 *   holds file contents) and leave every user of the mount with ENOTCONN:
 *   ignored, and logged.
 * - SIGTSTP (Ctrl-Z on a foreground daemon) and SIGTTOU/SIGTTIN (a background
 *   job touching its terminal) would stop the daemon, and every user of the
 *   mount would wait until someone resumed it: ignored, and logged.
 * - SIGHUP reopens the log file (logrotate's convention); the daemon keeps serving.
 * - SIGTERM and SIGINT unmount (lazily if busy) and end the daemon with status 0.
 */
import inspector from 'node:inspector';

const ignoredWithLog: readonly NodeJS.Signals[] = ['SIGUSR1', 'SIGUSR2', 'SIGQUIT', 'SIGTSTP', 'SIGTTOU', 'SIGTTIN'];

let inspectorGuarded = false;

/** Keep SIGUSR1 from opening the inspector. Idempotent; never undone. */
export function guardInspectorSignal(): void {
  if (inspectorGuarded) return;
  inspectorGuarded = true;
  process.on('SIGUSR1', () => undefined);
}

/**
 * Close an inspector that Node's own options (--inspect in NODE_OPTIONS or on
 * the command line) opened before our code ran. Returns whether one was open.
 */
export function closeInspector(): boolean {
  if (inspector.url() === undefined) return false;
  inspector.close();
  return true;
}

export interface DaemonSignalActions {
  stop(): void;
  reopenLogs(): void;
  log(level: 'info' | 'warn', msg: string): void;
}

/** Install the daemon's dispositions (see the top of this file). */
export function installDaemonSignals(a: DaemonSignalActions): void {
  guardInspectorSignal();
  for (const s of ignoredWithLog) process.on(s, () => a.log('info', `${s} received and ignored`));
  process.on('SIGHUP', () => {
    a.log('info', 'SIGHUP: reopening the log');
    a.reopenLogs();
  });
  for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, () => a.stop());
}
