#!/usr/bin/env node
/**
 * `virtkit` — a virtctl-like CLI. `virtkit up` runs an embedded control plane with an API server;
 * every other command talks to an API server through a kubeconfig (default: the one `up` writes).
 *
 * Exit codes (stable, for scripts): 0 ok · 1 failure · 2 usage error · 3 not found · 4 conflict or
 * illegal transition · 5 invalid manifest · 6 timeout.
 */
import { runCli } from './commands.ts';

const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
process.exitCode = code;
