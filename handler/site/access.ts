/**
 * Who may see a directory: Apache 2.2's host rules (Order, Allow, Deny,
 * Satisfy) and 2.4's Require tree, with Basic authentication against an
 * htpasswd file when a rule needs to know the user.
 */
import { isIP } from 'node:net';
import { firstHeader, type HttpRequest } from '../request';
import { methodApplies, type AuthzGroup, type DirConfig, type HostRule, type RequireRule } from './directives';
import { checkLogin, readGroups, readUsers } from './htpasswd';

type Result = 'granted' | 'denied' | 'no-user' | 'neutral';

interface Who {
  method: string;
  addr: string;
  user?: string;
  groups?: () => Set<string> | undefined;
}

function ipMatches(rule: { nets?: import('node:net').BlockList }, addr: string): boolean {
  const family = isIP(addr);
  return family !== 0 && rule.nets !== undefined && rule.nets.check(addr, family === 4 ? 'ipv4' : 'ipv6');
}

function evalRule(rule: RequireRule, who: Who): Result {
  let r: Result;
  switch (rule.provider) {
    case 'all-granted': r = 'granted'; break;
    case 'all-denied': r = 'denied'; break;
    case 'ip': r = ipMatches(rule, who.addr) ? 'granted' : 'denied'; break;
    case 'method': r = rule.names.includes(who.method) ? 'granted' : 'denied'; break;
    case 'valid-user': r = who.user !== undefined ? 'granted' : 'no-user'; break;
    case 'user': r = who.user === undefined ? 'no-user' : rule.names.includes(who.user) ? 'granted' : 'denied'; break;
    case 'group': {
      if (who.user === undefined) { r = 'no-user'; break; }
      const groups = who.groups?.();
      r = groups !== undefined && rule.names.some((g) => groups.has(g)) ? 'granted' : 'denied';
      break;
    }
  }
  if (!rule.negate) return r;
  // A negated rule can only deny; where its condition fails it has no say.
  return r === 'granted' ? 'denied' : r === 'denied' ? 'neutral' : r;
}

function evalNode(node: RequireRule | AuthzGroup, who: Who): Result {
  if (!methodApplies(node.methods, who.method)) return 'neutral';
  return node.kind === 'require' ? evalRule(node, who) : evalGroup(node, who);
}

function evalGroup(g: AuthzGroup, who: Who): Result {
  const results = g.items.map((i) => evalNode(i, who));
  switch (g.kind) {
    case 'any':
      if (results.includes('granted')) return 'granted';
      if (results.includes('no-user')) return 'no-user';
      return results.includes('denied') ? 'denied' : 'neutral';
    case 'all': {
      const failed = results.find((r) => r === 'denied' || r === 'no-user');
      if (failed !== undefined) return failed;
      return results.includes('granted') ? 'granted' : 'neutral';
    }
    case 'none':
      if (results.includes('granted')) return 'denied';
      return results.includes('no-user') ? 'no-user' : 'neutral';
  }
}

function hostMatches(rules: HostRule[], who: Who): boolean {
  return rules.some((r) => methodApplies(r.methods, who.method) && (r.all || ipMatches(r, who.addr)));
}

/** mod_access_compat's check_dir_access; undefined when no host rule applies to the request. */
function hostAllowed(conf: DirConfig, who: Who): boolean | undefined {
  const allow = conf.allow.filter((r) => methodApplies(r.methods, who.method));
  const deny = conf.deny.filter((r) => methodApplies(r.methods, who.method));
  if (conf.order === undefined && allow.length === 0 && deny.length === 0) return undefined;
  switch (conf.order ?? 'deny,allow') {
    case 'allow,deny':
      return hostMatches(allow, who) && !hostMatches(deny, who);
    case 'mutual-failure':
      return hostMatches(allow, who) && !hostMatches(deny, who);
    default:
      return !hostMatches(deny, who) || hostMatches(allow, who);
  }
}

export type AccessVerdict =
  | { ok: true; user?: string }
  | { ok: false; status: 401 | 403 | 500; why: string; headers?: Array<[string, string]> };

const HOST_DENIED: AccessVerdict = { ok: false, status: 403, why: 'client denied by server configuration (Order/Allow/Deny)' };

function basicCredentials(req: HttpRequest): { user: string; password: string } | undefined {
  const header = firstHeader(req, 'authorization');
  const m = header === undefined ? null : /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Whether the request may go on; `user` is the authenticated user when a rule
 * asked for one. The password file is only read once a rule needs a user.
 */
export function checkAccess(conf: DirConfig, req: HttpRequest, localPath: (path: string) => string = (p) => p): AccessVerdict {
  const who: Who = { method: req.method, addr: req.remoteAddr };
  const host = hostAllowed(conf, who);
  if (host === true && conf.satisfy === 'any') return { ok: true };
  if (host === false && conf.satisfy === 'all') return HOST_DENIED;

  const first: Result = conf.authz === undefined ? 'neutral' : evalGroup(conf.authz, who);
  // Only Satisfy Any gets here with the host refused: a Require must then grant.
  if (first === 'granted') return { ok: true };
  if (first === 'neutral') return host === false ? HOST_DENIED : { ok: true };
  if (first === 'denied') return { ok: false, status: 403, why: 'client denied by server configuration (Require)' };

  if (conf.authType !== 'Basic') return { ok: false, status: 500, why: 'Require needs a user but AuthType Basic is not set' };
  if (conf.authUserFile === undefined) return { ok: false, status: 500, why: 'AuthType Basic without AuthUserFile' };
  const challenge: Array<[string, string]> = [['WWW-Authenticate', `Basic realm="${conf.authName ?? ''}"`]];
  const creds = basicCredentials(req);
  if (creds === undefined) return { ok: false, status: 401, why: 'no Basic credentials sent', headers: challenge };
  const file = localPath(conf.authUserFile);
  const users = readUsers(file);
  if (users === undefined) return { ok: false, status: 500, why: `AuthUserFile ${file} cannot be read` };
  const good = checkLogin(users, file, creds.user, creds.password);
  if (good === 'unsupported') {
    return { ok: false, status: 500, why: `user "${creds.user}" in ${file} has a password hash format that is not supported` };
  }
  if (!good) return { ok: false, status: 401, why: `authentication failure for user "${creds.user}"`, headers: challenge };

  const groupFile = conf.authGroupFile === undefined ? undefined : localPath(conf.authGroupFile);
  who.user = creds.user;
  who.groups = () => (groupFile === undefined ? undefined : readGroups(groupFile)?.get(creds.user));
  const second = evalGroup(conf.authz!, who);
  if (second === 'granted') return { ok: true, user: creds.user };
  if (second === 'neutral') return host === false ? HOST_DENIED : { ok: true, user: creds.user };
  return { ok: false, status: 401, why: `user "${creds.user}" is not allowed here (Require)`, headers: challenge };
}
