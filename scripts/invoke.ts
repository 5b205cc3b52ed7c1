/**
 * Invokes the lambda-cgi function with the proxy event an HTTP request would
 * produce, and prints the answer like `curl -i`.
 *
 *   npm run invoke -- GET '/cgi-bin/search.pl?q=perl'
 *   npm run invoke -- POST /cgi-bin/apply.pl -d 'name=Jane&email=jane@example.com&message=Hi'
 *   npm run invoke -- /cgi-bin/search.pl --endpoint http://localhost:3002   (serverless-offline)
 *
 * Run with --help for every option.
 */
import { InvokeCommand, LambdaClient, type LambdaClientConfig } from '@aws-sdk/client-lambda';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { parseArgs } from 'node:util';
import {
  albEvent, functionUrlEvent, httpApiEvent, restEvent, resultHeaders, type ClientRequest, type Event,
} from './proxy-events';

const HELP = `Usage: npm run invoke -- [METHOD] URL [options]

Builds the proxy event the front door would send for this HTTP request, invokes
the function with it (on AWS, or on serverless-offline with --endpoint) and
prints the answer like curl -i: status line, headers, blank line, body.

  METHOD                  GET (default; POST when a body is given), HEAD, PUT, ...
  URL                     /path?query, or https://host/path?query (sets the Host)

Request:
  -d, --data <text>       request body, like curl -d (repeat to join with &); @file reads a file
      --data-binary @file request body, the file's bytes as they are
  -H, --header 'N: v'     request header, repeatable (-H 'Cookie: a=1')
  --event <kind>          http  HTTP API, payload 2.0 (default)
                          rest  REST API, payload 1.0 (stage in the URL, every body base64
                                because serverless.yml sets binaryMediaTypes '*/*')
                          url   Lambda Function URL
                          alb   Application Load Balancer (multi-value headers)
  --stage <name>          API stage: default "dev" for rest, "$default" for http
  --source-ip <ip>        client address (default 127.0.0.1)
  --payload <json|@file>  send this event as it is instead of building one
  --print-event           print the event and exit, invoking nothing

Function:
  --function <name>       default lambda-cgi-dev-cgi (service-stage-function)
  --region <region>       default AWS_REGION, the profile's region, or us-east-1
  --profile <name>        AWS credentials profile (default: AWS_PROFILE / the usual chain)
  --endpoint <url>        Lambda API endpoint, e.g. http://localhost:3002 for
                          serverless-offline (dummy credentials are used then)

Output:
  -o, --output <file>     write the body to <file> instead of stdout
  -v, --verbose           print the event sent and the function's log tail on stderr
  -h, --help

The exit status is 1 when the function fails (FunctionError) or cannot be invoked.`;

type Kind = 'http' | 'rest' | 'url' | 'alb';
const KINDS: Kind[] = ['http', 'rest', 'url', 'alb'];
const TEXT_TYPE = /^text\/|^application\/(json|javascript|xml)\b|[+/](json|xml)\b/i;

class UsageError extends Error {}

function parseCommandLine(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      data: { type: 'string', short: 'd', multiple: true },
      'data-binary': { type: 'string' },
      header: { type: 'string', short: 'H', multiple: true },
      event: { type: 'string', default: 'http' },
      stage: { type: 'string' },
      'source-ip': { type: 'string', default: '127.0.0.1' },
      payload: { type: 'string' },
      'print-event': { type: 'boolean' },
      function: { type: 'string', default: 'lambda-cgi-dev-cgi' },
      region: { type: 'string' },
      profile: { type: 'string' },
      endpoint: { type: 'string' },
      output: { type: 'string', short: 'o' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (!KINDS.includes(values.event as Kind)) throw new UsageError(`--event must be one of ${KINDS.join(', ')}`);
  if (!values.help && values.payload === undefined && (positionals.length < 1 || positionals.length > 2)) {
    throw new UsageError('expected [METHOD] URL');
  }
  return { ...values, event: values.event as Kind, positionals };
}

type Options = ReturnType<typeof parseCommandLine>;

const readArg = (value: string): Buffer => (value.startsWith('@') ? readFileSync(value.slice(1)) : Buffer.from(value));

/** The body, like curl: -d values joined with '&' (a file's newlines dropped), --data-binary as is. */
function bodyOf(opts: Options): Buffer | undefined {
  if (opts['data-binary'] !== undefined) return readArg(opts['data-binary']);
  if (opts.data === undefined) return undefined;
  const parts = opts.data.map((d) => (d.startsWith('@') ? Buffer.from(readArg(d).filter((b) => b !== 0x0a && b !== 0x0d)) : Buffer.from(d)));
  return Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [p] : [Buffer.from('&'), p])));
}

/** What a browser would escape in a URL it was given: spaces, controls, non-ASCII. */
const escapeUnsafe = (s: string) => s.replace(/[\x00-\x20\x7f-\uffff]/g, (c) => encodeURIComponent(c));

function splitUrl(url: string): { host?: string; path: string; query?: string } {
  const m = /^https?:\/\/([^/?#]+)(.*)$/i.exec(url);
  const rest = (m ? m[2] : url).split('#')[0] || '/';
  if (!rest.startsWith('/') && !rest.startsWith('?')) throw new UsageError(`URL must start with / or http(s)://, got "${url}"`);
  const q = rest.indexOf('?');
  const path = escapeUnsafe(q < 0 ? rest : rest.slice(0, q)) || '/';
  return { host: m?.[1], path, query: q < 0 ? undefined : escapeUnsafe(rest.slice(q + 1)) };
}

function isUtf8(b: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

function defaultHost(kind: Kind, region: string): string {
  if (kind === 'url') return `abcdefghij.lambda-url.${region}.on.aws`;
  if (kind === 'alb') return `lambda-cgi-alb-123456789.${region}.elb.amazonaws.com`;
  return `abc123.execute-api.${region}.amazonaws.com`;
}

function buildEvent(opts: Options, region: string): Event {
  const [method, url] = opts.positionals.length === 2 ? opts.positionals : [undefined, opts.positionals[0]];
  const target = splitUrl(url);
  const body = bodyOf(opts);
  const headers: Record<string, string[]> = {};
  const named = (name: string) => Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  const set = (name: string, value: string) => {
    if (named(name) === undefined) headers[name] = [value];
  };
  for (const h of opts.header ?? []) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new UsageError(`header must be "Name: value", got "${h}"`);
    const name = h.slice(0, colon).trim();
    (headers[named(name) ?? name] ??= []).push(h.slice(colon + 1).trim());
  }
  const given = named('host');
  const host = given !== undefined ? headers[given][0] : (target.host ?? defaultHost(opts.event, region));
  set('Host', host);
  set('User-Agent', 'lambda-cgi-invoke');
  set('Accept', '*/*');
  if (opts.event !== 'alb') {
    // API Gateway and Function URLs add these; albEvent adds its own.
    set('X-Forwarded-For', opts['source-ip']);
    set('X-Forwarded-Proto', 'https');
    set('X-Forwarded-Port', '443');
  }
  if (body !== undefined) {
    set('Content-Type', 'application/x-www-form-urlencoded');
    set('Content-Length', String(body.length));
  }
  const contentType = headers[named('content-type') ?? '']?.[0] ?? '';
  // Text bodies arrive as text; anything else base64, as the front doors do it.
  const asText = body !== undefined && opts.event !== 'rest' && TEXT_TYPE.test(contentType) && isUtf8(body);
  const req: ClientRequest = {
    method: (method ?? (body !== undefined ? 'POST' : 'GET')).toUpperCase(),
    path: target.path,
    query: target.query,
    headers,
    body: body === undefined ? undefined : asText ? body.toString('utf8') : body,
    sourceIp: opts['source-ip'],
  };
  const meta = {
    requestId: randomUUID(),
    time: new Date(),
    userAgent: headers[named('user-agent')!][0],
    domainName: host,
    apiId: host.split('.')[0],
  };
  switch (opts.event) {
    case 'rest': {
      const stage = opts.stage ?? 'dev';
      // Only the execute-api domain shows the stage in the URL; a custom domain does not.
      return restEvent(req, { ...meta, stage, stageInPath: /\.execute-api\./.test(host) });
    }
    case 'url':
      return functionUrlEvent(req, meta);
    case 'alb':
      return albEvent(req, { multi: true });
    default:
      return httpApiEvent(req, { ...meta, stage: opts.stage ?? '$default' });
  }
}

function clientConfig(opts: Options): LambdaClientConfig {
  const region = opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (opts.endpoint !== undefined) {
    return { endpoint: opts.endpoint, region: region ?? 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };
  }
  return { ...(region ? { region } : {}), ...(opts.profile ? { profile: opts.profile } : {}) };
}

/** The status line, headers, blank line and body of a proxy result, as curl -i shows them. */
function printResult(result: Event, opts: Options): void {
  const status = Number(result.statusCode ?? 200);
  const line = typeof result.statusDescription === 'string' ? result.statusDescription : `${status} ${STATUS_CODES[status] ?? ''}`.trim();
  const head = [`HTTP/1.1 ${line}`, ...resultHeaders(result).map(([n, v]) => `${n}: ${v}`), '', ''].join('\r\n');
  const body = Buffer.from(typeof result.body === 'string' ? result.body : '', result.isBase64Encoded ? 'base64' : 'utf8');
  process.stdout.write(head);
  if (opts.output !== undefined) writeFileSync(opts.output, body);
  else process.stdout.write(body);
}

async function main(argv: string[]): Promise<number> {
  let opts: Options;
  try {
    opts = parseCommandLine(argv);
  } catch (err) {
    if (argv.includes('-h') || argv.includes('--help')) {
      console.log(HELP);
      return 0;
    }
    console.error(`invoke: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (opts.help) {
    console.log(HELP);
    return 0;
  }
  let event: Event;
  try {
    const region = opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
    event = opts.payload !== undefined ? JSON.parse(readArg(opts.payload).toString('utf8')) : buildEvent(opts, region);
  } catch (err) {
    console.error(`invoke: ${(err as Error).message}`);
    return 2;
  }
  if (opts['print-event']) {
    console.log(JSON.stringify(event, null, 2));
    return 0;
  }
  if (opts.verbose) console.error(`invoke: event sent to ${opts.function}:\n${JSON.stringify(event, null, 2)}`);

  const config = clientConfig(opts);
  // The SDK's notice that its 2027 releases will need Node 22 says nothing about this command.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let client = new LambdaClient(config);
  // Neither the environment nor the profile names a region: use the default.
  if (!(await client.config.region().then(Boolean, () => false))) client = new LambdaClient({ ...config, region: 'us-east-1' });
  const out = await client.send(
    new InvokeCommand({
      FunctionName: opts.function,
      Payload: Buffer.from(JSON.stringify(event)),
      LogType: opts.verbose ? 'Tail' : undefined,
    }),
  );
  if (opts.verbose && out.LogResult) console.error(`invoke: log tail:\n${Buffer.from(out.LogResult, 'base64').toString('utf8')}`);
  const text = Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8');
  if (out.FunctionError !== undefined) {
    console.error(`invoke: the function failed (${out.FunctionError}):\n${text}`);
    return 1;
  }
  const result = text === '' ? null : JSON.parse(text);
  if (result === null || typeof result !== 'object' || !('statusCode' in result)) {
    // Not an HTTP answer (a warm-up ping, for instance): show it as it came.
    console.log(text);
    return 0;
  }
  printResult(result, opts);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: Error) => {
    console.error(`invoke: ${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`);
    process.exitCode = 1;
  },
);
