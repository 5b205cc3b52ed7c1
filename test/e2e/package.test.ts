/**
 * `serverless package`, fully offline: dummy credentials, and CloudFormation
 * pointed at a local stub that knows no stacks (osls asks for the stack only to
 * compare layer hashes). It runs in a copy of the project so that the repo's
 * .serverless/ and dist/ are left alone (osls always stages artifacts in
 * <service>/.serverless and deletes it afterwards, even with --package).
 *
 * Checked: the function zip holds only the bundle and its map, the layer zip
 * holds the site with its file modes, and the CloudFormation template wires the
 * layer, the settings and the chosen front door to the function.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { childEnv, REPO, SERVERLESS, startCloudFormationStub, type CloudFormationStub } from '../support/offline';

interface ZipEntry {
  name: string;
  /** Unix mode from the external attributes (e.g. 0o100755). */
  mode: number;
  /** Host system that made the entry: 3 is Unix, whose modes unzip applies. */
  madeBy: number;
  data: Buffer;
}

/** Reads a zip through its central directory: names, Unix modes and contents. */
function readZip(file: string): ZipEntry[] {
  const zip = readFileSync(file);
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error(`${file}: no end of central directory`);
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`${file}: bad central directory entry ${i}`);
    const madeBy = zip.readUInt8(at + 5);
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLen = zip.readUInt16LE(at + 28);
    const skip = nameLen + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    const mode = zip.readUInt32LE(at + 38) >>> 16;
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLen);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const raw = zip.subarray(start, start + size);
    const data = method === 8 ? inflateRawSync(raw) : method === 0 ? raw : undefined;
    if (data === undefined) throw new Error(`${file}: ${name} uses compression method ${method}`);
    entries.push({ name, mode, madeBy, data });
    at += 46 + skip;
  }
  return entries;
}

/** Every regular file below `dir`, as paths relative to it. */
function filesBelow(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(relative(dir, join(entry.parentPath, entry.name)));
  }
  return out.sort();
}

const SKIP = new Set(['node_modules', '.git', '.serverless', 'dist', 'build', 'coverage', 'test', '.data']);

/** A copy of the project (without its build outputs and tests) sharing its node_modules. */
function copyProject(to: string): void {
  cpSync(REPO, to, {
    recursive: true,
    filter: (src) => {
      const rel = relative(REPO, src);
      // layers/cgi-bin/db is serverless-offline's link to the local .data/, not part of the site.
      return rel === '' || !(SKIP.has(rel.split('/')[0]) || rel.endsWith('.log') || rel === 'layers/cgi-bin/db');
    },
  });
  symlinkSync(join(REPO, 'node_modules'), join(to, 'node_modules'));
}

interface Packaged {
  dir: string;
  output: string;
  template: Record<string, any>;
  resources: Record<string, any>;
  ofType(type: string): Array<[string, any]>;
}

let stub: CloudFormationStub;
let tmp: string;
let project: string;
const packaged: Record<string, Packaged> = {};

function runPackage(name: string, params: string[], env: Record<string, string> = {}): Promise<Packaged> {
  const dir = join(tmp, `out-${name}`);
  return new Promise((resolve, reject) => {
    const child = spawn(SERVERLESS, ['package', '--package', dir, ...params.map((p) => `--param=${p}`)], {
      cwd: project,
      env: childEnv({
        AWS_ACCESS_KEY_ID: 'x',
        AWS_SECRET_ACCESS_KEY: 'x',
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_CLOUDFORMATION: stub.url,
        // Nothing from the tester's own AWS setup.
        AWS_PROFILE: '',
        AWS_SESSION_TOKEN: '',
        AWS_CONFIG_FILE: join(tmp, 'no-aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(tmp, 'no-aws-credentials'),
        ...env,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`serverless package ${params.join(' ')} exited with ${code}:\n${output}`));
      const template = JSON.parse(readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'));
      const resources = template.Resources as Record<string, any>;
      const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
      resolve({ dir, output, template, resources, ofType });
    });
  });
}

const PERL_LAYER = 'arn:aws:lambda:us-east-1:123456789012:layer:perl-5-38-runtime:1';
const ACCESS_POINT = 'arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef0';

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'lambda-cgi-package-'));
  project = join(tmp, 'project');
  copyProject(project);
  writeFileSync(join(tmp, 'no-aws-config'), '');
  writeFileSync(join(tmp, 'no-aws-credentials'), '');
  stub = await startCloudFormationStub();
  // One after the other: each run builds the bundle into the same project copy.
  packaged.http = await runPackage('http', []);
  packaged.rest = await runPackage('rest', ['api=rest']);
  packaged.url = await runPackage('url', ['api=url']);
  packaged.perl = await runPackage('perl', [`perlLayer=${PERL_LAYER}`]);
  packaged.efs = await runPackage('efs', [`efsAccessPoint=${ACCESS_POINT}`, 'subnetIds=subnet-a,subnet-b', 'securityGroupIds=sg-1']);
  packaged.seeded = await runPackage('seeded', [], { CGI_WRITABLE: 'cgi-bin/data,htdocs/counter' });

  packaged.urlStream = await runPackage('url-stream', ['api=url', 'stream=true']);
  packaged.restStream = await runPackage('rest-stream', ['api=rest', 'stream=true']);
  // The example site's C program is built for this machine: the site check would refuse it for arm64.
  packaged.arm64 = await runPackage('arm64', ['architecture=arm64', 'checkSite=warn']);
}, 360_000);

afterAll(async () => {
  await stub?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('serverless package, offline', () => {
  it('asked CloudFormation only whether the stack exists', () => {
    expect(stub.requests.length).toBeGreaterThan(0);
    expect(new Set(stub.requests.map((r) => r.action))).toEqual(new Set(['DescribeStacks']));
    expect(stub.requests[0].body).toContain('StackName=lambda-cgi-dev');
  });

  it('ran the build: the output names the bundle', () => {
    expect(packaged.http.output).toContain('lambda-cgi: built dist/handler.js');
  });

  it.each(['http', 'rest', 'url'])('%s: the function zip holds only the bundle, its map and the Perl worker', (api) => {
    const entries = readZip(join(packaged[api].dir, 'cgi.zip'));
    expect(entries.map((e) => e.name).sort()).toEqual(['dist/handler.js', 'dist/handler.js.map', 'dist/perl/lambda-cgi-worker.pl']);
    const worker = entries.find((e) => e.name === 'dist/perl/lambda-cgi-worker.pl')!.data;
    expect(worker.equals(readFileSync(join(__dirname, '../../handler/process/perl/lambda-cgi-worker.pl')))).toBe(true);
  });

  it('the bundle is a CommonJS module exporting the handler, with a map of handler/ sources and the allowed packages', () => {
    const entries = readZip(join(packaged.http.dir, 'cgi.zip'));
    const js = entries.find((e) => e.name === 'dist/handler.js')!.data;
    const file = join(tmp, 'handler-from-zip.js');
    writeFileSync(file, js);
    const mod = require(file);
    expect(typeof mod.handler).toBe('function');
    const map = JSON.parse(entries.find((e) => e.name === 'dist/handler.js.map')!.data.toString('utf8'));
    expect(map.sources.length).toBeGreaterThan(0);
    // scripts/build.mjs names the packages the bundle may hold besides handler/.
    for (const src of map.sources) expect(src).toMatch(/(^|\/)handler\/[\w/-]+\.ts$|(^|\/)node_modules\/(mime\/dist\/types\/\w+|bcryptjs\/umd\/index|apache-md5\/src\/index|unix-crypt-td-js\/[\w./-]+)\.js$/);
    expect(map.sources.some((src: string) => src.includes('node_modules/mime/'))).toBe(true);
  });

  describe('the layer zip', () => {
    let entries: ZipEntry[];
    const site = () => join(project, 'layers');
    beforeAll(() => {
      // The writable directory's link (tested below) is the one entry that is not a file of layers/.
      entries = readZip(join(packaged.http.dir, 'site.zip')).filter((e) => e.name !== 'cgi-bin/db');
    });

    it('holds the site: cgi-bin/ and htdocs/ at its root, not the C sources or the README', () => {
      const names = entries.map((e) => e.name).sort();
      for (const f of ['cgi-bin/search.pl', 'cgi-bin/apply.pl', 'cgi-bin/logo.cgi', 'cgi-bin/brochure.sh', 'cgi-bin/nph-time.pl',
        'cgi-bin/lib/AcmeJobs.pm', 'cgi-bin/data/jobs.tsv', 'cgi-bin/data/acme-brochure.pdf', 'htdocs/index.html', 'htdocs/logo.png']) {
        expect(names).toContain(f);
      }
      expect(names.filter((n) => n.startsWith('cgi-src/') || n === 'README.md')).toEqual([]);
      const expected = filesBelow(site()).filter((f) => !f.startsWith('cgi-src/') && f !== 'README.md');
      expect(names).toEqual(expected);
    });

    it('keeps the file contents', () => {
      for (const e of entries) expect({ name: e.name, same: e.data.equals(readFileSync(join(site(), e.name))) }).toEqual({ name: e.name, same: true });
      const logo = entries.find((e) => e.name === 'cgi-bin/logo.cgi')!;
      expect(logo.data.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    });

    it('keeps the exec bits: 0755 on the programs, 0644 on data, libraries and static files', () => {
      for (const e of entries) expect({ name: e.name, madeBy: e.madeBy }).toEqual({ name: e.name, madeBy: 3 });
      const mode = (name: string) => (entries.find((e) => e.name === name)!.mode & 0o7777).toString(8);
      for (const f of ['search.pl', 'apply.pl', 'job.pl', 'thanks.pl', 'index.cgi', 'logo.cgi', 'brochure.sh', 'nph-time.pl', 'printenv.pl']) {
        expect({ f, mode: mode(`cgi-bin/${f}`) }).toEqual({ f, mode: '755' });
      }
      for (const f of ['cgi-bin/lib/AcmeJobs.pm', 'cgi-bin/data/jobs.tsv', 'cgi-bin/data/acme-brochure.pdf', 'htdocs/index.html', 'htdocs/logo.png', 'htdocs/style.css']) {
        expect({ f, mode: mode(f) }).toEqual({ f, mode: '644' });
      }
      // And in general: each entry's mode is the file's.
      for (const e of entries) {
        const disk = (statSync(join(site(), e.name)).mode & 0o777).toString(8);
        expect({ name: e.name, mode: (e.mode & 0o777).toString(8) }).toEqual({ name: e.name, mode: disk });
      }
    });
  });

  describe('CGI_WRITABLE in the layer zip', () => {
    const S_IFLNK = 0o120000;
    const entry = (api: string, name: string) => readZip(join(packaged[api].dir, 'site.zip')).find((e) => e.name === name);

    it('the example\'s cgi-bin/db is a symlink into /tmp/lambda-cgi without a mount, into /mnt/site with EFS', () => {
      for (const [api, target] of [['http', '/tmp/lambda-cgi/cgi-bin/db'], ['efs', '/mnt/site/cgi-bin/db']]) {
        const link = entry(api, 'cgi-bin/db')!;
        expect({ api, type: link.mode & 0o170000, madeBy: link.madeBy, target: link.data.toString() }).toEqual({ api, type: S_IFLNK, madeBy: 3, target });
      }
    });

    it('a writable directory with files: a link, and its files (modes kept) under .lambda-cgi/seed/', () => {
      const all = readZip(join(packaged.seeded.dir, 'site.zip'));
      const names = all.map((e) => e.name);
      expect(names.filter((n) => n.startsWith('cgi-bin/data'))).toEqual(['cgi-bin/data']);
      expect(entry('seeded', 'cgi-bin/data')!.data.toString()).toBe('/tmp/lambda-cgi/cgi-bin/data');
      // A writable directory the site does not have yet is a link with nothing to seed.
      expect(entry('seeded', 'htdocs/counter')!.data.toString()).toBe('/tmp/lambda-cgi/htdocs/counter');
      expect(names.filter((n) => n.startsWith('.lambda-cgi/')).sort()).toEqual(['.lambda-cgi/seed/cgi-bin/data/acme-brochure.pdf', '.lambda-cgi/seed/cgi-bin/data/jobs.tsv']);
      const seed = entry('seeded', '.lambda-cgi/seed/cgi-bin/data/jobs.tsv')!;
      expect(seed.data.equals(readFileSync(join(project, 'layers/cgi-bin/data/jobs.tsv')))).toBe(true);
      expect((seed.mode & 0o7777).toString(8)).toBe('644');
      expect(names).toContain('cgi-bin/search.pl');
    });

    it('unzip (as Lambda extracts a layer) makes the links real symlinks', () => {
      const out = join(tmp, 'unzipped');
      execFileSync('unzip', ['-q', join(packaged.seeded.dir, 'site.zip'), '-d', out]);
      expect(lstatSync(join(out, 'cgi-bin/data')).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(out, 'cgi-bin/data'))).toBe('/tmp/lambda-cgi/cgi-bin/data');
      expect(statSync(join(out, 'cgi-bin/search.pl')).mode & 0o777).toBe(0o755);
    });
  });

  describe.each([
    ['x86_64', 'http', 62],
    ['arm64', 'arm64', 183],
  ])('the exec-wrapper layer for %s', (arch, run, machine) => {
    let entries: ZipEntry[];
    beforeAll(() => {
      entries = readZip(join(packaged[run].dir, 'lambdaCgi.zip'));
    });

    it('holds lambda-cgi/exec-wrapper with its exec bit, the preload object, cgi-exec and cgi-spawner, nothing else', () => {
      expect(entries.map((e) => e.name).sort()).toEqual(['lambda-cgi/cgi-exec', 'lambda-cgi/cgi-spawner', 'lambda-cgi/exec-wrapper', 'lambda-cgi/lambda-cgi-nodump.so']);
      const wrapper = entries.find((e) => e.name === 'lambda-cgi/exec-wrapper')!;
      expect(wrapper.madeBy).toBe(3);
      expect((wrapper.mode & 0o777).toString(8)).toBe('755');
      expect(wrapper.data.equals(readFileSync(join(project, 'wrapper', 'exec-wrapper')))).toBe(true);
    });

    it(`the preload object is a shared object for ${arch} (ELF machine ${machine}), cgi-exec and cgi-spawner programs for it`, () => {
      const so = entries.find((e) => e.name === 'lambda-cgi/lambda-cgi-nodump.so')!.data;
      expect(so.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
      expect(so[4]).toBe(2); // 64-bit
      expect(so.readUInt16LE(16)).toBe(3); // ET_DYN
      expect(so.readUInt16LE(18)).toBe(machine);
      for (const name of ['lambda-cgi/cgi-exec', 'lambda-cgi/cgi-spawner']) {
        const exec = entries.find((e) => e.name === name)!;
        expect([name, (exec.mode & 0o777).toString(8), exec.data.readUInt16LE(18)]).toEqual([name, '755', machine]);
      }
    });

    it('is wired to the function for that architecture', () => {
      const { resources } = packaged[run];
      const layer = resources.LambdaCgiLambdaLayer;
      expect(layer.Type).toBe('AWS::Lambda::LayerVersion');
      expect(layer.Properties.Content.S3Key).toMatch(/\/lambdaCgi\.zip$/);
      expect(layer.Properties.CompatibleArchitectures).toEqual([arch]);
      const fn = resources.CgiLambdaFunction.Properties;
      expect(fn.Architectures).toEqual([arch]);
      expect(fn.Layers).toContainEqual({ Ref: 'LambdaCgiLambdaLayer' });
      expect(fn.Environment.Variables.AWS_LAMBDA_EXEC_WRAPPER).toBe('/opt/lambda-cgi/exec-wrapper');
    });
  });

  describe('the CloudFormation template', () => {
    const fn = (api: string) => packaged[api].resources.CgiLambdaFunction;
    const fnArn = { 'Fn::GetAtt': ['CgiLambdaFunction', 'Arn'] };

    it.each(['http', 'rest', 'url'])('%s: one function running the bundle, with the site layer', (api) => {
      const functions = packaged[api].ofType('AWS::Lambda::Function');
      expect(functions.map(([id]) => id)).toEqual(['CgiLambdaFunction']);
      const p = fn(api).Properties;
      expect(p.Handler).toBe('dist/handler.handler');
      expect(p.Runtime).toBe('nodejs22.x');
      expect(p.Timeout).toBe(29);
      expect(p.MemorySize).toBe(1024);
      expect(p.Architectures).toEqual(['x86_64']);
      expect(p.Code.S3Key).toMatch(/\/cgi\.zip$/);
      expect(p.Layers).toEqual([{ Ref: 'SiteLambdaLayer' }, { Ref: 'LambdaCgiLambdaLayer' }]);
      const layer = packaged[api].resources.SiteLambdaLayer;
      expect(layer.Type).toBe('AWS::Lambda::LayerVersion');
      expect(layer.Properties.Content.S3Key).toMatch(/\/site\.zip$/);
      expect(layer.Properties.CompatibleArchitectures).toEqual(['x86_64']);
    });

    it('sets every lambda-cgi setting, with its default, as the environment', () => {
      expect(fn('http').Properties.Environment.Variables).toEqual({
        AWS_LAMBDA_EXEC_WRAPPER: '/opt/lambda-cgi/exec-wrapper',
        CGI_KEEP_AWS_CREDENTIALS: 'off',
        CGI_ROOT: '/opt/cgi-bin',
        CGI_PREFIX: '/cgi-bin',
        CGI_DOCUMENT_ROOT: '/opt/htdocs',
        CGI_INDEX: 'index.cgi,index.pl',
        CGI_INTERPRETERS: '/usr/bin/perl=/opt/bin/perl',
        CGI_PASS_ENV: '',
        CGI_TIMEOUT_MS: '',
        CGI_MAX_BODY_BYTES: '6291456',
        CGI_MAX_HEADER_BYTES: '65536',
        CGI_PASS_AUTH: 'off',
        CGI_SERVER_NAME: '',
        CGI_SPAWNER: 'on',
        CGI_SERVER_ADMIN: '',
        CGI_BASE_PATH: '',
        CGI_STATIC: 'on',
        CGI_DIRECTORY_SLASH: '',
        CGI_LOG_FORMAT: 'json',
        CGI_CONFIG: '',
        CGI_PERL_WORKER: 'on',
        CGI_PERL_WORKER_EXCLUDE: '',
        CGI_PERL_PRELOAD: '',
        CGI_PERL_PRECOMPILE: '',
        CGI_PERL_WORKER_MAX_REQUESTS: '10000',
        CGI_MAX_CONCURRENCY: '',
        CGI_OFFLINE_LAYER_DIR: '',
        CGI_WRITABLE: 'cgi-bin/db',
        CGI_DATA_DIR: '',
        CGI_ENV_ACME_DATA_DIR: '',
        CGI_ENV_TMPDIR: '/tmp',
      });
    });

    it('--param=efsAccessPoint with subnets and security groups: the access point at /mnt/site in that VPC', () => {
      const p = fn('efs').Properties;
      expect(p.FileSystemConfigs).toEqual([{ Arn: ACCESS_POINT, LocalMountPath: '/mnt/site' }]);
      expect(p.VpcConfig).toEqual({ SecurityGroupIds: ['sg-1'], SubnetIds: ['subnet-a', 'subnet-b'] });
      expect(p.Environment.Variables.CGI_DATA_DIR).toBe('/mnt/site');
      const role = JSON.stringify(packaged.efs.resources.IamRoleLambdaExecution);
      expect(role).toContain('elasticfilesystem:ClientMount');
      expect(role).toContain('elasticfilesystem:ClientWrite');
      expect(role).toContain('AWSLambdaVPCAccessExecutionRole');
    });

    it('efsAccessPoint without subnets or security groups fails the packaging and says what is missing', async () => {
      await expect(runPackage('efs-no-vpc', [`efsAccessPoint=${ACCESS_POINT}`])).rejects.toThrow(/needs --param="subnetIds=subnet-a,subnet-b" and --param="securityGroupIds=sg-1"/);
    }, 60_000);

    it.each(['http', 'rest', 'url', 'perl'])('%s: without efsAccessPoint, neither a file system nor a VPC', (api) => {
      const p = fn(api).Properties;
      expect(p.FileSystemConfigs).toBeUndefined();
      expect(p.VpcConfig).toBeUndefined();
      expect(JSON.stringify(packaged[api].template)).not.toContain('elasticfilesystem');
    });

    it('http (default): an HTTP API whose routes ANY / and ANY /{proxy+} go to the function', () => {
      const { ofType, resources } = packaged.http;
      expect(ofType('AWS::ApiGatewayV2::Api').map(([, r]) => r.Properties.ProtocolType)).toEqual(['HTTP']);
      const integrations = ofType('AWS::ApiGatewayV2::Integration');
      expect(integrations).toHaveLength(1);
      const [integrationId, integration] = integrations[0];
      expect(integration.Properties).toMatchObject({ IntegrationType: 'AWS_PROXY', IntegrationUri: fnArn, PayloadFormatVersion: '2.0' });
      const routes = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties);
      expect(routes.map((r) => r.RouteKey).sort()).toEqual(['ANY /', 'ANY /{proxy+}']);
      for (const r of routes) expect(r.Target).toEqual({ 'Fn::Join': ['/', ['integrations', { Ref: integrationId }]] });
      const permission = ofType('AWS::Lambda::Permission').map(([, r]) => r.Properties);
      expect(permission).toEqual([expect.objectContaining({ FunctionName: fnArn, Principal: 'apigateway.amazonaws.com' })]);
      expect(ofType('AWS::ApiGateway::RestApi')).toEqual([]);
      expect(ofType('AWS::Lambda::Url')).toEqual([]);
      expect(resources.HttpApiStage.Properties.StageName).toBe('$default');
    });

    it('rest: a REST API passing every media type as binary, ANY on / and /{proxy+} proxied to the function', () => {
      const { ofType } = packaged.rest;
      const apis = ofType('AWS::ApiGateway::RestApi');
      expect(apis).toHaveLength(1);
      expect(apis[0][1].Properties.BinaryMediaTypes).toEqual(['*/*']);
      const methods = ofType('AWS::ApiGateway::Method').map(([, r]) => r.Properties);
      expect(methods).toHaveLength(2);
      for (const m of methods) {
        expect(m.HttpMethod).toBe('ANY');
        expect(m.Integration.Type).toBe('AWS_PROXY');
        expect(m.Integration.IntegrationHttpMethod).toBe('POST');
        expect(JSON.stringify(m.Integration.Uri)).toContain(JSON.stringify(fnArn));
      }
      const resources = ofType('AWS::ApiGateway::Resource').map(([, r]) => r.Properties.PathPart);
      expect(resources).toEqual(['{proxy+}']);
      // One method on the API's root resource, one on {proxy+}.
      expect(methods.some((m) => JSON.stringify(m.ResourceId).includes('RootResourceId'))).toBe(true);
      expect(ofType('AWS::ApiGateway::Deployment').map(([, r]) => r.Properties.StageName)).toEqual(['dev']);
      expect(ofType('AWS::ApiGatewayV2::Api')).toEqual([]);
      expect(ofType('AWS::Lambda::Url')).toEqual([]);
    });

    it('url: a public Lambda Function URL and no API Gateway', () => {
      const { ofType } = packaged.url;
      const urls = ofType('AWS::Lambda::Url').map(([, r]) => r.Properties);
      expect(urls).toEqual([expect.objectContaining({ AuthType: 'NONE', TargetFunctionArn: fnArn })]);
      const permissions = ofType('AWS::Lambda::Permission').map(([, r]) => r.Properties);
      // Public URLs need both grants since AWS's October 2025 change.
      expect(permissions).toEqual([
        expect.objectContaining({ FunctionName: fnArn, Action: 'lambda:InvokeFunctionUrl', Principal: '*', FunctionUrlAuthType: 'NONE' }),
        expect.objectContaining({ FunctionName: fnArn, Action: 'lambda:InvokeFunction', Principal: '*', InvokedViaFunctionUrl: true }),
      ]);
      expect(ofType('AWS::ApiGatewayV2::Api')).toEqual([]);
      expect(ofType('AWS::ApiGateway::RestApi')).toEqual([]);
    });

    it('url + stream=true: the streaming entry point behind a Function URL in RESPONSE_STREAM mode', () => {
      const { ofType } = packaged.urlStream;
      expect(fn('urlStream').Properties.Handler).toBe('dist/handler.streamHandler');
      const urls = ofType('AWS::Lambda::Url').map(([, r]) => r.Properties);
      expect(urls).toEqual([expect.objectContaining({ AuthType: 'NONE', TargetFunctionArn: fnArn, InvokeMode: 'RESPONSE_STREAM' })]);
      expect(ofType('AWS::Lambda::Url').map(([, r]) => r.Properties.InvokeMode)).not.toContain('BUFFERED');
      expect(packaged.url.ofType('AWS::Lambda::Url').map(([, r]) => r.Properties.InvokeMode)).toEqual([undefined]);
    });

    it('rest + stream=true: the streaming entry point, integrations in STREAM mode through response-streaming-invocations', () => {
      expect(fn('restStream').Properties.Handler).toBe('dist/handler.streamHandler');
      const methods = packaged.restStream.ofType('AWS::ApiGateway::Method').map(([, r]) => r.Properties);
      expect(methods).toHaveLength(2);
      for (const m of methods) {
        expect(m.Integration.ResponseTransferMode).toBe('STREAM');
        const uri = JSON.stringify(m.Integration.Uri);
        expect(uri).toContain('lambda:path/2021-11-15/functions/');
        expect(uri).toContain('/response-streaming-invocations');
      }
      for (const m of packaged.rest.ofType('AWS::ApiGateway::Method').map(([, r]) => r.Properties)) {
        expect(m.Integration.ResponseTransferMode).toBe('BUFFERED');
        expect(JSON.stringify(m.Integration.Uri)).toContain('/invocations');
      }
      expect(fn('rest').Properties.Handler).toBe('dist/handler.handler');
    });

    it('--param=perlLayer=<arn> adds that layer after the site layer', () => {
      expect(fn('perl').Properties.Layers).toEqual([{ Ref: 'SiteLambdaLayer' }, { Ref: 'LambdaCgiLambdaLayer' }, PERL_LAYER]);
    });

    it('the role may write its logs and nothing else', () => {
      const roles = packaged.http.ofType('AWS::IAM::Role');
      expect(roles).toHaveLength(1);
      const statements = roles[0][1].Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement);
      const actions = statements.flatMap((s: any) => s.Action).sort();
      expect(actions).toEqual(['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:TagResource']);
      for (const s of statements) {
        expect(s.Effect).toBe('Allow');
        // Only the function's own log group.
        expect(JSON.stringify(s.Resource)).toContain('log-group:/aws/lambda/lambda-cgi-dev');
      }
      expect(roles[0][1].Properties.ManagedPolicyArns ?? []).toEqual([]);
    });
  });
});
