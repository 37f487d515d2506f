import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AirlockError } from '../errors.js';

/** Where the console is served. */
export const CONSOLE_PATH = '/app';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Asset names carry their content hash (app-3f2a9c1b.js), so they never change: cached for a year. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

export interface ConsoleAssets {
  readonly dir: string;
  readonly index: Asset;
  /** Every other file, by its path below the folder (POSIX separators), e.g. "assets/app-3f2a9c1b.js". */
  readonly files: ReadonlyMap<string, Asset>;
}

/** The built console: dist/web beside dist/console (the installed package), or dist/web of the checkout (tests from source). */
export function defaultConsoleDir(): string | undefined {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return [join(here, '..', 'web'), join(here, '..', '..', 'dist', 'web')].find((dir) => existsSync(join(dir, 'index.html')));
}

function asset(file: string): Asset {
  const body = readFileSync(file);
  return { body, type: TYPES[extname(file)] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

/**
 * Reads the whole built console into memory once (it is small). Only files found here are ever
 * served: a request names a key of this map or gets index.html, so no path from a URL ever reaches
 * the file system.
 */
export function loadConsoleAssets(dir: string): ConsoleAssets {
  const files = new Map<string, Asset>();
  const walk = (folder: string, depth: number): void => {
    for (const name of readdirSync(folder)) {
      if (name.startsWith('.')) continue;
      const path = join(folder, name);
      const stat = statSync(path);
      if (stat.isDirectory() && depth < 4) walk(path, depth + 1);
      else if (stat.isFile()) files.set(relative(dir, path).split(sep).join('/'), asset(path));
    }
  };
  walk(dir, 0);
  const index = files.get('index.html');
  if (!index) throw new AirlockError('console_missing', `${dir} holds no index.html`);
  files.delete('index.html');
  return { dir, index, files };
}

function send(reply: FastifyReply, file: Asset, cacheControl: string, ifNoneMatch: string | undefined): FastifyReply {
  reply.header('cache-control', cacheControl).header('etag', file.etag).header('x-content-type-options', 'nosniff');
  if (ifNoneMatch === file.etag) return reply.status(304).send();
  return reply.type(file.type).send(file.body);
}

/**
 * The web console at /app: static files built by `npm run build` (scripts/build-web.mjs) into dist/web.
 * /app and every path below it that is not a file answer index.html (the console routes in the
 * browser), never cached; the hashed assets are cached for a year. Public: the console logs in itself.
 */
export async function consoleStaticRoutes(app: FastifyInstance, options: { dir?: string | undefined }): Promise<void> {
  const dir = options.dir ?? defaultConsoleDir();
  const assets = dir && existsSync(join(dir, 'index.html')) ? loadConsoleAssets(dir) : undefined;

  const serve = async (path: string, ifNoneMatch: string | undefined, reply: FastifyReply): Promise<FastifyReply> => {
    if (!assets) throw new AirlockError('console_not_built', 'the web console is not built: run `npm run build`', { status: 503 });
    const file = assets.files.get(path);
    if (file) return send(reply, file, IMMUTABLE, ifNoneMatch);
    // A missing asset is a 404 (a stale page asking for an old bundle), not the page itself.
    if (path.startsWith('assets/') || /\.[a-z0-9]{1,5}$/i.test(path)) throw new AirlockError('not_found', `no console file ${path}`, { status: 404 });
    return send(reply, assets.index, 'no-store', ifNoneMatch);
  };

  const page = { openapi: { responses: { '200': { description: 'The console page (it logs in by itself)', contentType: 'text/html' }, '304': { description: 'Not modified (ETag)' } } } };
  app.get('/', { config: { openapi: { responses: { '302': { description: 'To the console at /app/' } } } } }, async (_request, reply) => reply.redirect(`${CONSOLE_PATH}/`, 302));
  app.get(CONSOLE_PATH, { config: page }, async (request, reply) => serve('', request.headers['if-none-match'], reply));
  // Not in the API document: any path below /app (slashes included) is a console file or the page, which
  // an OpenAPI path template cannot express; /app stands for them there.
  app.get<{ Params: { '*': string } }>(`${CONSOLE_PATH}/*`, { schema: { hide: true } }, async (request, reply) => serve(request.params['*'], request.headers['if-none-match'], reply));
}
