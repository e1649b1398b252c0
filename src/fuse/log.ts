/**
 * Levelled logging for servers: the levels, and writes to a log fd that can
 * never throw. A server logs from its serving thread; a log destination that
 * fails (disk full, EIO on a hung-up terminal, EPIPE from a reader that went
 * away) must cost a dropped line, never the server.
 */
import { writeRaw } from '../sys/file.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** What servers call to log (SessionOptions.log). Must never throw. */
export type LogFn = (level: LogLevel, msg: string) => void;

const EINTR = 4;

/** Whether a message at `level` passes a `max` threshold. */
export function logs(max: LogLevel, level: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(max);
}

// C0 controls and DEL (a newline in a file name would forge a log line, an
// escape sequence would reach the operator's terminal).
const CONTROL = /[\x00-\x1f\x7f]/g;

/** `msg` with control characters shown as \xHH, so that one message is one line. */
export function printable(msg: string): string {
  CONTROL.lastIndex = 0;
  if (!CONTROL.test(msg)) return msg;
  return msg.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * Writes all of `text` to `fd`, retrying short writes and EINTR; any other
 * failure (including EAGAIN on a non-blocking fd) gives up. Never throws.
 * Returns whether everything was written.
 */
export function writeAll(fd: number, text: string): boolean {
  try {
    const b = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < b.length) {
      const n = writeRaw(fd, off === 0 ? b : b.subarray(off), b.length - off);
      if (n === -EINTR) continue;
      if (n <= 0) return false;
      off += n;
    }
    return true;
  } catch {
    return false;
  }
}

/** Log lines to stderr (fd 2), written directly: process.stderr would turn a failed write into a crash. */
export function stderrLog(max: LogLevel): LogFn {
  return (level, msg) => {
    if (logs(max, level)) writeAll(2, `passthroughfs: ${level}: ${printable(msg)}\n`);
  };
}
