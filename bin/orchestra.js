#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ (workers need plain JS on Node 20).
import '../dist/cli/main.js';
