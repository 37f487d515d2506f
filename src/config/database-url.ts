import { isAbsolute, resolve } from 'node:path';

export type DatabaseTarget =
  | { readonly dialect: 'sqlite'; readonly file: string }
  | { readonly dialect: 'postgres'; readonly url: string };

/** Hides the password of a connection URL so it can be printed or logged. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  }
}

/**
 * Reads a database URL: `postgres://…` / `postgresql://…`, or `sqlite:PATH` (also the SQLAlchemy form
 * `sqlite:///./relative.db` and `sqlite:////absolute.db` that the reference deployments use).
 * Without a URL the database is a SQLite file in the data directory.
 */
export function parseDatabaseUrl(url: string | undefined, defaultFile: string, cwd: string): DatabaseTarget | { readonly error: string } {
  if (url === undefined) return { dialect: 'sqlite', file: defaultFile };
  if (/^postgres(ql)?:\/\//i.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return { error: `"${maskUrl(url)}" is not a valid PostgreSQL URL (postgres://user:password@host:5432/database)` };
    }
    if (!parsed.hostname) return { error: `"${maskUrl(url)}" names no host (postgres://user:password@host:5432/database)` };
    if (parsed.pathname.length <= 1) return { error: `"${maskUrl(url)}" names no database (postgres://user:password@host:5432/database)` };
    return { dialect: 'postgres', url };
  }
  if (/^sqlite:/i.test(url)) {
    let path = url.slice('sqlite:'.length);
    if (path.startsWith('///')) path = path.slice(3);
    else if (path.startsWith('//')) path = path.slice(2);
    if (path === '' || path === ':memory:') {
      return { error: `"${url}" names no file; the audit chain must outlive the process (sqlite:./airlock.db)` };
    }
    return { dialect: 'sqlite', file: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  return { error: `"${maskUrl(url)}" is not supported: use postgres://…, postgresql://… or sqlite:PATH` };
}
