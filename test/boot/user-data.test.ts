import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { WordPressDatabase, WordPressMedia } from '../../src';
import { deterministicTarGz } from '../../src/boot/archive';
import { bootArchive, bootFiles } from '../../src/boot/user-data';
import { synth, userDataOf } from '../util';

const ASSETS = path.join(__dirname, '..', '..', 'assets', 'boot');

describe('the boot archive in the user data', () => {
  test('is the same bytes on every synthesis, so an unchanged boot never rolls the instances', () => {
    expect(bootArchive().archive).toEqual(bootArchive().archive);
    const a = userDataOf(synth().template);
    const b = userDataOf(synth().template);
    expect(a).toEqual(b);
  });

  test('is the same bytes from other processes, working directories, umasks and locales', () => {
    // GIVEN a synthesis in a separate Node process each time, as on another machine
    const root = path.join(__dirname, '..', '..');
    const program = `
      process.umask(parseInt(process.env.UMASK, 8));
      const { App, Stack } = require('aws-cdk-lib');
      const { ScalableWordPress } = require(${JSON.stringify(path.join(root, 'src'))});
      const stack = new Stack(new App(), 'Test');
      new ScalableWordPress(stack, 'Site');
      const [lt] = Object.values(require('aws-cdk-lib/assertions').Template.fromStack(stack).findResources('AWS::EC2::LaunchTemplate'));
      process.stdout.write(JSON.stringify(lt.Properties.LaunchTemplateData.UserData));`;
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'elsewhere-'));
    const run = (cwd: string, umask: string, locale: string) => execFileSync(process.execPath,
      ['-r', require.resolve('ts-node/register/transpile-only'), '-e', program],
      { cwd, env: { ...process.env, NODE_PATH: path.join(root, 'node_modules'), UMASK: umask, LC_ALL: locale, LANG: locale, TS_NODE_PROJECT: path.join(root, 'test', 'tsconfig.json') } }).toString();
    try {
      // WHEN it runs from the project with the usual umask, and from elsewhere with a strict one and another locale
      const here = run(root, '022', 'C.UTF-8');
      const there = run(elsewhere, '077', 'sv_SE.UTF-8');
      // THEN the user data is identical, and it is the user data of this process too
      expect(there).toEqual(here);
      expect(JSON.parse(here)).toEqual(Object.values(synth().template.findResources('AWS::EC2::LaunchTemplate'))[0].Properties.LaunchTemplateData.UserData);
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  test.each([
    ['no execute bit and CRLF line ends (a Windows checkout)', 0o644, '\r\n'],
    ['every file executable (a Windows file system)', 0o755, '\n'],
  ])('does not depend on the checkout: %s', (_, mode, eol) => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'checkout-'));
    try {
      for (const name of fs.readdirSync(ASSETS)) {
        fs.writeFileSync(path.join(copy, name), fs.readFileSync(path.join(ASSETS, name), 'utf8').replace(/\n/g, eol));
        fs.chmodSync(path.join(copy, name), mode);
      }
      expect(bootFiles(copy)).toEqual(bootFiles());
      expect(bootFiles(copy).filter((f) => f.executable).map((f) => f.name)).toEqual(['boot.sh']);
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  test('travels in the launch template\'s metadata, whose SHA-256 the user data checks before unpacking it', () => {
    const { template } = synth();
    const [id, launchTemplate] = Object.entries<any>(template.findResources('AWS::EC2::LaunchTemplate'))[0];
    const { archive, sha256 } = launchTemplate.Metadata['ScalableWordPress::Boot'];
    expect(archive).toEqual(bootArchive().archive);
    expect(sha256).toEqual(createHash('sha256').update(Buffer.from(archive, 'base64')).digest('hex'));
    const userData = userDataOf(template);
    expect(userData).toContain(`WP_BOOT_RESOURCE='${id}'`);
    expect(userData).toContain(`WP_BOOT_SHA256='${sha256}'`);
    expect(userData).toMatch(/describe-stack-resource .*\n.*--logical-resource-id "\$WP_BOOT_RESOURCE" --query StackResourceDetail\.Metadata/);
    expect(userData).toMatch(/echo "\$WP_BOOT_SHA256  \/usr\/local\/lib\/scalable-wordpress\.tar\.gz" \| sha256sum -c --quiet\ntar -xzf/);
  });

  test('a changed boot file changes the user data, so that the instances roll', () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'changed-'));
    try {
      for (const name of fs.readdirSync(ASSETS)) {
        fs.copyFileSync(path.join(ASSETS, name), path.join(copy, name));
      }
      fs.appendFileSync(path.join(copy, 'healthz.php'), '\n');
      const sha = (dir?: string) => createHash('sha256').update(deterministicTarGz(bootFiles(dir))).digest('hex');
      expect(sha(copy)).not.toEqual(sha());
      expect(userDataOf(synth().template)).toContain(`WP_BOOT_SHA256='${sha()}'`);
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  test('unpacks with tar into exactly the files of assets/boot, executables executable', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'boot-'));
    try {
      execFileSync('tar', ['-xzf', '-', '-C', dir, '--no-same-owner'], { input: Buffer.from(bootArchive().archive, 'base64') });
      const names = fs.readdirSync(dir).sort();
      expect(names).toEqual(fs.readdirSync(ASSETS).sort());
      expect(names).toContain('boot.sh');
      for (const file of bootFiles()) {
        expect(fs.readFileSync(path.join(dir, file.name))).toEqual(file.content);
      }
      expect(fs.statSync(path.join(dir, 'boot.sh')).mode.toString(8)).toMatch(/755$/);
      expect(fs.statSync(path.join(dir, 'db.php')).mode.toString(8)).toMatch(/644$/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test.each([
    ['Aurora + EFS + domain', { database: WordPressDatabase.auroraReplicas({ readers: 2 }), media: WordPressMedia.efs(), siteTitle: 'A'.repeat(100) }],
    ['RDS + EBS', { database: WordPressDatabase.rdsMultiAz(), media: WordPressMedia.ebs() }],
  ])('%s fits EC2\'s 16 KiB limit on user data, with every token at a realistic length', (_, props) => {
    // Tokens render as ${Ref:...}; in the deployed template each becomes an ARN, a host name or an ID.
    const { template } = synth(props);
    const rendered = userDataOf(template).replace(/\$\{[^}]+\}/g, 'x'.repeat(110));
    expect(Buffer.byteLength(rendered)).toBeLessThan(16 * 1024);
    // The boot files are in the template instead, which CloudFormation takes up to 1 MB (from S3, where the CDK puts it).
    expect(Buffer.byteLength(JSON.stringify(template.toJSON()))).toBeLessThan(1024 * 1024);
  });

  test('ends by running the boot script', () => {
    const userData = userDataOf(synth().template);
    expect(userData.trimEnd().split('\n').pop()).toBe('exec /usr/local/lib/scalable-wordpress/boot.sh');
  });
});

describe('the boot files', () => {
  test('ship without their comment lines, each left empty so that line numbers stay those of the package', () => {
    for (const file of bootFiles()) {
      const source = fs.readFileSync(path.join(ASSETS, file.name), 'utf8').split('\n');
      const shipped = file.content.toString('utf8').split('\n');
      expect(shipped).toHaveLength(source.length);
      shipped.forEach((line, i) => expect(line === source[i] || line === '').toBe(true));
    }
    const boot = bootFiles().find((f) => f.name === 'boot.sh')!.content.toString();
    expect(boot.startsWith('#!/bin/bash\n')).toBe(true);
    expect(boot).not.toMatch(/^\s*# /m);
    expect(bootFiles().reduce((n, f) => n + f.content.length, 0))
      .toBeLessThan(bootFiles().reduce((n, f) => n + fs.statSync(path.join(ASSETS, f.name)).size, 0) * 0.8);
  });

  test('still parse as shipped: bash and PHP', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shipped-'));
    try {
      for (const file of bootFiles()) {
        fs.writeFileSync(path.join(dir, file.name), file.content);
        if (file.name.endsWith('.php')) execFileSync('php', ['-l', path.join(dir, file.name)], { stdio: 'pipe' });
        if (file.name.endsWith('.sh')) execFileSync('bash', ['-n', path.join(dir, file.name)]);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('are valid bash and pass shellcheck', () => {
    execFileSync('bash', ['-n', path.join(ASSETS, 'boot.sh')]);
    execFileSync('shellcheck', ['-S', 'style', path.join(ASSETS, 'boot.sh')], { stdio: 'pipe' });
  });

  test.each(bootFiles().filter((f) => f.name.endsWith('.php')).map((f) => f.name))('%s is valid PHP', (name) => {
    execFileSync('php', ['-l', path.join(ASSETS, name)], { stdio: 'pipe' });
  });
});
