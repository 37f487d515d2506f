// Builds the web console (web/, Preact + TSX) into dist/web: hashed app-*.js and app-*.css under
// assets/, and an index.html that only links them (no inline script or style: the server's CSP is
// default-src 'self'). Run by `npm run build` after tsc; Airlock serves the result at /app.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist', 'web');
const assets = join(out, 'assets');

rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { app: join(root, 'web', 'main.tsx') },
  bundle: true,
  format: 'esm',
  target: ['es2022', 'chrome111', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  tsconfig: join(root, 'web', 'tsconfig.json'),
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  outdir: assets,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((file) => join(root, file));
const script = outputs.find((file) => file.endsWith('.js'));
const style = outputs.find((file) => file.endsWith('.css'));
if (!script || !style) throw new Error(`the console build made no ${script ? 'stylesheet' : 'script'}`);

const favicon = readFileSync(join(root, 'web', 'favicon.svg'));
const faviconName = `favicon-${createHash('sha256').update(favicon).digest('hex').slice(0, 8)}.svg`;
writeFileSync(join(assets, faviconName), favicon);

const url = (file) => `/app/${relative(out, file).split('\\').join('/')}`;
const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<meta name="referrer" content="no-referrer">
<title>Airlock</title>
<link rel="icon" type="image/svg+xml" href="/app/assets/${faviconName}">
<link rel="stylesheet" href="${url(style)}">
<script type="module" src="${url(script)}"></script>
</head>
<body>
<div id="root"></div>
<noscript>The Airlock console needs JavaScript. The command line (airlock approve, airlock audit verify, …) works without it.</noscript>
</body>
</html>
`;
writeFileSync(join(out, 'index.html'), html);

const size = (file) => `${(readFileSync(file).length / 1024).toFixed(1)} KiB`;
console.log(`web console: dist/web/index.html, ${basename(script)} ${size(script)}, ${basename(style)} ${size(style)}`);
