#!/usr/bin/env node
// The `herald` command (package.json "bin"): runs the TypeScript CLI in tools/cli/src with tsx,
// the same loader as `node --import tsx`, in this process (no second node).
'use strict';
const path = require('node:path');

import('tsx').then(
  () => require(path.join(__dirname, '..', 'src', 'main.ts')),
  (err) => {
    process.stderr.write(`herald: cannot load tsx (${err.message}); run npm ci in the Herald repository\n`);
    process.exit(1);
  },
);
