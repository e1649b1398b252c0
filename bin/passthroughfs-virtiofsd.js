#!/usr/bin/env node
// First, before anything else is loaded: without a listener of its own,
// SIGUSR1 makes Node open its inspector, a way for any local user to run code
// as the (root) daemon. See src/cli/signals.ts; the listener is never removed.
process.on('SIGUSR1', () => undefined);

const { virtiofsMain } = await import('../dist/src/cli/virtiofsd.js');
process.exitCode = await virtiofsMain(process.argv.slice(2));
