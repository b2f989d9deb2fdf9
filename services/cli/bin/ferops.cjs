#!/usr/bin/env node
// `npx ferops ...` / a linked `ferops` binary: runs the TypeScript CLI under tsx. tsx's loader is named by its full
// path: `--import tsx` is resolved from the directory the command is typed in, which outside the repository has no tsx.
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const tsx = pathToFileURL(require.resolve('tsx')).href;
const r = spawnSync(process.execPath, ['--import', tsx, join(__dirname, '..', 'main.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
