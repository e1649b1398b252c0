/** Levelled logging to stderr for servers. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

export function stderrLog(max: LogLevel): (level: LogLevel, msg: string) => void {
  const rank = LOG_LEVELS.indexOf(max);
  return (level, msg) => {
    if (LOG_LEVELS.indexOf(level) <= rank) process.stderr.write(`passthroughfs: ${level}: ${msg}\n`);
  };
}
