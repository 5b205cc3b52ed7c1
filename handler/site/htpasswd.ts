/**
 * Users and groups from the files AuthUserFile and AuthGroupFile name, in every
 * hash format `htpasswd` writes. The hash libraries are required inside the
 * functions that need them, so a request that never logs in never loads them.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

interface FileCache<T> {
  key: string;
  value: T;
}

const files = new Map<string, FileCache<unknown>>();

/** Reads and parses a file once per change (mtime, size, inode); undefined when it cannot be read. */
function cachedFile<T>(path: string, parse: (text: string) => T): T | undefined {
  let key: string;
  try {
    const s = statSync(path);
    key = `${s.ino}:${s.mtimeMs}:${s.size}`;
  } catch {
    return undefined;
  }
  const hit = files.get(path);
  if (hit !== undefined && hit.key === key) return hit.value as T;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const value = parse(text);
  if (files.size > 64) files.clear();
  files.set(path, { key, value });
  return value;
}

/** user → hash, as htpasswd writes them (`user:hash` lines). */
export function readUsers(path: string): Map<string, string> | undefined {
  return cachedFile(path, (text) => {
    const users = new Map<string, string>();
    for (const line of text.split(/\r?\n/)) {
      if (line === '' || line.startsWith('#')) continue;
      const colon = line.indexOf(':');
      if (colon > 0 && !users.has(line.slice(0, colon))) users.set(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    return users;
  });
}

/** user → the groups it is in (`group: user user ...` lines). */
export function readGroups(path: string): Map<string, Set<string>> | undefined {
  return cachedFile(path, (text) => {
    const groups = new Map<string, Set<string>>();
    for (const line of text.split(/\r?\n/)) {
      if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const group = line.slice(0, colon).trim();
      for (const user of line.slice(colon + 1).trim().split(/\s+/).filter(Boolean)) {
        let set = groups.get(user);
        if (set === undefined) groups.set(user, (set = new Set()));
        set.add(group);
      }
    }
    return groups;
  });
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export type HashKind = 'bcrypt' | 'apr1' | 'sha1' | 'crypt' | 'unsupported';

export function hashKind(hash: string): HashKind {
  if (/^\$2[aby]\$\d\d\$/.test(hash)) return 'bcrypt';
  if (hash.startsWith('$apr1$')) return 'apr1';
  if (hash.startsWith('{SHA}')) return 'sha1';
  if (/^[./0-9A-Za-z]{13}$/.test(hash)) return 'crypt';
  return 'unsupported';
}

/** Whether `password` matches an htpasswd hash; 'unsupported' for a format we cannot check (never a match). */
export function verifyPassword(password: string, hash: string): boolean | 'unsupported' {
  switch (hashKind(hash)) {
    case 'bcrypt': {
      const bcrypt = require('bcryptjs') as typeof import('bcryptjs');
      return bcrypt.compareSync(password, hash);
    }
    case 'apr1': {
      const md5 = require('apache-md5') as (password: string, salt: string) => string;
      return sameString(md5(password, hash), hash);
    }
    case 'sha1':
      return sameString('{SHA}' + createHash('sha1').update(password, 'utf8').digest('base64'), hash);
    case 'crypt': {
      const crypt = require('unix-crypt-td-js') as (password: string, salt: string) => string;
      return sameString(crypt(password, hash.slice(0, 2)), hash);
    }
    default:
      return 'unsupported';
  }
}

/** Good logins already checked, so a slow bcrypt runs once per user and password per warm instance. */
const verified = new Set<string>();

export function checkLogin(users: Map<string, string>, file: string, user: string, password: string): boolean | 'unsupported' {
  const hash = users.get(user);
  if (hash === undefined) {
    // As long as a real check, so the answer's timing does not tell which users exist.
    const any = users.values().next().value;
    if (any !== undefined) verifyPassword(password, any);
    return false;
  }
  const key = createHash('sha256').update(`${file}\0${user}\0${hash}\0${password}`).digest('base64');
  if (verified.has(key)) return true;
  const ok = verifyPassword(password, hash);
  if (ok === true) {
    if (verified.size >= 256) verified.clear();
    verified.add(key);
  }
  return ok;
}
