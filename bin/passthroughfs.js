#!/usr/bin/env node
// First, before anything else is loaded: without a listener of its own,
// SIGUSR1 makes Node open its inspector, a way for any local user to run code
// as the (root) daemon. See src/cli/signals.ts; the listener is never removed.
process.on('SIGUSR1', () => undefined);

const { main } = await import('../dist/src/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
