/**
 * The serving loop of one vhost-user connection, on the calling thread:
 * poll(2) on the socket and the kick eventfds of the queues that are
 * running; a readable socket gets its messages handled, a kick gets its
 * eventfd read and its queue drained.
 *
 * Node's event loop keeps running between rounds, so that replies the
 * handler gives later (promises), timers and signal handlers work: while
 * requests are in flight, or unless the loop owns its thread, the wait
 * happens on libuv's thread pool and the event loop is free meanwhile; a
 * loop that owns its thread parks in poll(2) itself and lets the event loop
 * run every PARK_MS while idle and every YIELD_MS under load (as the
 * /dev/fuse loop does).
 *
 * An eventfd of its own wakes the wait when work appears outside it (a
 * stalled queue that an async reply freed) or when the caller aborts.
 */
import { close, eventfd, poll, pollAsync, POLLERR, POLLHUP, POLLIN, readRaw, writeRaw, type PollFd } from '../../sys/index.js';
import type { LogFn } from '../../fuse/log.js';
import type { VhostUserBackend } from './backend.js';

/** Longest wait in one poll: how soon an abort or a timer gets its turn at worst. */
const PARK_MS = 200;
/** Under load, a loop owning its thread lets the event loop run at least this often. */
const YIELD_MS = 50;
/** Messages handled per round before kicks get their turn. */
const MESSAGES_PER_ROUND = 64;
/** Poll interval for rings the front-end asked to be polled (SET_VRING_KICK without an fd). */
const POLLED_RING_MS = 1;

export interface LoopOptions {
  log: LogFn;
  /**
   * The loop owns its thread (a daemon): it waits in poll(2) on the thread
   * itself rather than on the thread pool, saving a thread hop per wake-up.
   * Default false (a library sharing the thread with other work, tests).
   */
  ownThread?: boolean;
  /** Ends the loop (the connection is closed) when aborted. */
  signal?: AbortSignal;
}

const EIGHT = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);
const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Serves `backend`'s connection until the front-end disconnects, the
 * connection must end, or `signal` aborts. Then releases everything the
 * connection held (backend.shutdown()) and resolves; it never rejects for
 * anything the front-end does.
 */
export async function runLoop(backend: VhostUserBackend, opts: LoopOptions): Promise<void> {
  const { log, signal } = opts;
  const wakeFd = eventfd();
  const wakeBuf = Buffer.alloc(8);
  const wake = (): void => void writeRaw(wakeFd, EIGHT, 8);
  backend.wake = wake;
  signal?.addEventListener('abort', wake);
  let lastYield = performance.now();
  try {
    for (;;) {
      if (signal?.aborted) {
        log('info', 'vhost-user: stopping on request');
        break;
      }
      for (const i of [...backend.pending]) backend.processQueue(i);

      const fds: PollFd[] = [
        { fd: backend.conn.fd, events: POLLIN, revents: 0 },
        { fd: wakeFd, events: POLLIN, revents: 0 },
      ];
      const kicked: number[] = [];
      let polled = false;
      for (const q of backend.queues) {
        if (!q.started || !q.enabled) continue;
        if (q.kickFd >= 0) {
          fds.push({ fd: q.kickFd, events: POLLIN, revents: 0 });
          kicked.push(q.index);
        } else {
          polled = true;
          backend.pending.add(q.index);
        }
      }

      const busy = backend.pending.size > 0;
      const timeout = polled ? POLLED_RING_MS : busy ? 0 : PARK_MS;
      let n: number;
      if (timeout === 0 || (opts.ownThread && backend.inflight === 0)) {
        n = pollNow(fds, timeout);
        const now = performance.now();
        const idled = n === 0 && timeout > 0;
        if (idled || now - lastYield > YIELD_MS) {
          lastYield = now;
          await yieldNow();
        }
      } else {
        n = await pollAsync(fds, timeout).catch(() => -1);
        lastYield = performance.now();
      }
      if (n < 0) {
        log('error', 'vhost-user: poll failed; closing the connection');
        break;
      }
      if (n === 0) continue;

      if (fds[1]!.revents) readRaw(wakeFd, wakeBuf);
      let messages = false;
      if (fds[0]!.revents & (POLLIN | POLLHUP | POLLERR)) {
        if (!(await receive(backend, log))) break;
        messages = true;
      }
      for (let k = 0; k < kicked.length; k++) {
        if (!(fds[k + 2]!.revents & (POLLIN | POLLERR | POLLHUP))) continue;
        const q = backend.queues[kicked[k]!]!;
        // The queue may have been stopped by a message handled just above.
        if (!q.started) continue;
        q.consumeKick();
        backend.processQueue(q.index);
      }
      // Messages are the control plane (rare, and a front-end in this process
      // waits on the event loop for their answers): let the event loop run.
      if (messages && opts.ownThread) {
        lastYield = performance.now();
        await yieldNow();
      }
    }
  } catch (e) {
    backend.stats.internalErrors++;
    log('error', `vhost-user: internal error in the serving loop: ${(e as Error)?.stack ?? String(e)}`);
  } finally {
    signal?.removeEventListener('abort', wake);
    backend.wake = undefined;
    backend.shutdown();
    close(wakeFd);
  }
}

/** poll(2) now, EINTR counting as nothing ready; -1 on any other failure. */
function pollNow(fds: PollFd[], timeout: number): number {
  try {
    return poll(fds, timeout);
  } catch (e) {
    return (e as { errno?: number }).errno === 4 ? 0 : -1;
  }
}

/**
 * Handles the messages waiting on the socket, one after the other (a
 * message answered later, GET_VRING_BASE waiting for requests in flight,
 * holds back the ones after it). False when the connection ends.
 */
async function receive(backend: VhostUserBackend, log: LogFn): Promise<boolean> {
  for (let i = 0; i < MESSAGES_PER_ROUND; i++) {
    const m = backend.conn.receive();
    if (m === 'again') return true;
    if (m === 'closed') {
      log('info', 'vhost-user: the front-end disconnected');
      return false;
    }
    if ('fatal' in m) {
      log('warn', `vhost-user: closing the connection: ${m.fatal}`);
      return false;
    }
    const handled = backend.handle(m);
    if (!(handled === true || (handled !== false && (await handled)))) {
      log('warn', `vhost-user: closing the connection: ${backend.endReason ?? 'the back-end ended it'}`);
      return false;
    }
  }
  return true;
}
