/**
 * `serverless package` without AWS credentials or network: the one AWS call
 * packaging makes (CloudFormation DescribeStacks, "is there a stack yet?") goes
 * to a local stub that answers "no such stack", as AWS does before a first deploy.
 *
 *   npm run package:offline                          (writes .serverless/)
 *   npm run package:offline -- --param="api=rest" --package build/rest
 *
 * Any argument is passed to `serverless package`. Nothing is deployed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startCloudFormationStub } from './cloudformation-stub';

const root = resolve(__dirname, '..');

async function main(): Promise<number> {
  const stub = await startCloudFormationStub();
  const tmp = mkdtempSync(join(tmpdir(), 'lambda-cgi-package-'));
  writeFileSync(join(tmp, 'config'), '');
  writeFileSync(join(tmp, 'credentials'), '');
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      // Placeholders: the stub never checks them, and nothing else is called.
      AWS_ACCESS_KEY_ID: 'offline',
      AWS_SECRET_ACCESS_KEY: 'offline',
      AWS_SESSION_TOKEN: '',
      AWS_PROFILE: '',
      AWS_REGION: process.env.AWS_REGION || 'us-east-1',
      AWS_ENDPOINT_URL_CLOUDFORMATION: stub.url,
      AWS_CONFIG_FILE: join(tmp, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(tmp, 'credentials'),
    };
    const child = spawn(join(root, 'node_modules', '.bin', 'serverless'), ['package', ...process.argv.slice(2)], {
      cwd: root,
      env,
      stdio: 'inherit',
    });
    return await new Promise<number>((ok) => {
      child.on('error', (err) => {
        console.error(`package:offline: cannot run serverless: ${err.message}`);
        ok(1);
      });
      child.on('close', (code, signal) => ok(code ?? (signal ? 1 : 0)));
    });
  } finally {
    await stub.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code));
