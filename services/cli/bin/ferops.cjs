#!/usr/bin/env node
// `npx ferops ...` / a linked `ferops` binary: runs the TypeScript CLI under tsx.
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');
const r = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'main.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
