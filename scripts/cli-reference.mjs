// Rewrites the command reference of docs/CLI.md (between its markers) from the built command line:
//   npm run build && node scripts/cli-reference.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { buildProgram } from '../dist/cli/program.js';
import { jsonReference } from '../dist/cli/reference.js';

const file = new URL('../docs/CLI.md', import.meta.url);
const START = '<!-- reference:start -->';
const END = '<!-- reference:end -->';
const page = readFileSync(file, 'utf8');
const from = page.indexOf(START);
const to = page.indexOf(END);
if (from < 0 || to < from) throw new Error(`docs/CLI.md has no ${START} … ${END} section`);
writeFileSync(file, `${page.slice(0, from + START.length)}\n${jsonReference(buildProgram())}${page.slice(to)}`);
