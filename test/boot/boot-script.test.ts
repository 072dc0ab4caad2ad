import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// The boot script's own code, read from assets/boot. What it does on a real instance is proven by the boot
// lab (lab/run.sh); these tests pin what the lab cannot make happen on demand, such as a mirror failing.
const ASSETS = path.join(__dirname, '..', '..', 'assets', 'boot');
const BOOT = fs.readFileSync(path.join(ASSETS, 'boot.sh'), 'utf8');

/** The script's lines without comments, continuation lines joined: one entry per command line. */
function commandLines(script: string): string[] {
  return script
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n');
}

/** The source of a shell function of boot.sh, from `name() {` to its closing `}`. */
function shellFunction(name: string): string {
  const lines = BOOT.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`${name}() {`));
  if (start < 0) throw new Error(`boot.sh has no function ${name}`);
  if (lines[start].trimEnd().endsWith('}')) return lines[start];
  const end = lines.findIndex((line, i) => i > start && line === '}');
  return lines.slice(start, end + 1).join('\n');
}

/** The configuration write-config.php writes, with these WP_* inputs over a minimal site's. */
function writeConfig(extra: Record<string, string>, cacheSecret = ''): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'config-'));
  try {
    const target = path.join(dir, 'config.php');
    execFileSync('php', [path.join(ASSETS, 'write-config.php'), target], {
      input: `${JSON.stringify({ username: 'u', password: 'p' })}\0${'s'.repeat(512)}\0${cacheSecret}`,
      env: {
        ...process.env,
        WP_DB_NAME: 'wordpress',
        WP_DB_WRITER_HOST: 'writer.example',
        WP_DB_PORT: '3306',
        WP_DB_ENGINE: 'mysql',
        WP_SITE_URL: 'https://example.com',
        WP_CONTENT: '/wp-content',
        WP_COOKIE_HASH: '0123456789abcdef0123456789abcdef',
        ...extra,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return fs.readFileSync(target, 'utf8');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('apt-get in the boot script', () => {
  test('every apt-get retries its downloads and waits for the dpkg lock', () => {
    const calls = commandLines(BOOT).filter((line) => /\bapt-get\b/.test(line));
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) {
      expect(call).toMatch(/-o Acquire::Retries=[1-9]/);
      expect(call).toMatch(/-o DPkg::Lock::Timeout=[1-9]/i);
    }
  });

  /**
   * Runs the script's install_packages with a stand-in apt-get that fails the calls numbered in FAILING
   * (from 1) or every call, and records every call. sleep and step are stand-ins too: the test does not wait.
   */
  function install(failing: number[] | 'all'): { status: number | null; calls: string[]; output: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'apt-'));
    try {
      const bin = path.join(dir, 'bin');
      fs.mkdirSync(bin);
      fs.writeFileSync(path.join(bin, 'apt-get'), [
        '#!/bin/bash',
        `echo "$*" >> ${dir}/calls`,
        `n=$(wc -l < ${dir}/calls)`,
        failing === 'all' ? 'exit 1' : `case " ${failing.join(' ')} " in *" $n "*) exit 1 ;; esac`,
      ].join('\n'), { mode: 0o755 });
      const script = [
        'set -Eeuo pipefail',
        'PHP_VERSION=8.4',
        'step() { echo "step: $*"; }',
        'sleep() { :; }',
        shellFunction('apt_get'),
        shellFunction('install_packages'),
        'install_packages',
      ].join('\n');
      const run = spawnSync('bash', ['-c', script], { env: { PATH: `${bin}:${process.env.PATH}` }, encoding: 'utf8' });
      const calls = fs.existsSync(path.join(dir, 'calls')) ? fs.readFileSync(path.join(dir, 'calls'), 'utf8').trim().split('\n') : [];
      return { status: run.status, calls, output: run.stdout + run.stderr };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  test('installs with an update and two installs when the mirror answers', () => {
    const { status, calls } = install([]);
    expect(status).toBe(0);
    expect(calls.map((c) => c.match(/\b(update|install)\b/)?.[1])).toEqual(['update', 'install', 'install']);
    for (const call of calls) {
      expect(call).toMatch(/-o Acquire::Retries=[1-9]/);
      expect(call).toMatch(/-o DPkg::Lock::Timeout=[1-9]/i);
    }
  });

  test.each([
    ['the update', [1]],
    ['the first install', [2]],
    ['the second install', [3]],
    ['three whole attempts', [1, 2, 3]],
  ])('retries the whole install after a failure of %s', (_, failing) => {
    const { status, calls, output } = install(failing);
    expect(status).toBe(0);
    expect(output).toMatch(/installing packages failed \(attempt 1 of 4\)/);
    // The attempt that succeeds runs all three commands.
    expect(calls.slice(-3).map((c) => c.match(/\b(update|install)\b/)?.[1])).toEqual(['update', 'install', 'install']);
  });

  test('fails the boot after four failed attempts', () => {
    const { status, calls, output } = install('all');
    expect(status).not.toBe(0);
    expect(calls.filter((c) => /\bupdate\b/.test(c))).toHaveLength(4);
    expect(output).toMatch(/installing packages failed \(attempt 4 of 4\)/);
  });
});

describe("the database's TLS certificate", () => {
  const php = (name: string) => fs.readFileSync(path.join(ASSETS, name), 'utf8');
  /** The last argument of each call of FN in CODE, read up to the call's closing parenthesis. */
  function lastArguments(code: string, fn: string): string[] {
    return [...code.matchAll(new RegExp(`\\b${fn}\\(`, 'g'))].map((m) => {
      let depth = 1;
      let i = m.index! + m[0].length;
      let lastComma = i;
      for (; depth > 0; i++) {
        if (code[i] === '(' || code[i] === '[') depth++;
        if (code[i] === ')' || code[i] === ']') depth--;
        if (code[i] === ',' && depth === 1) lastComma = i + 1;
      }
      return code.slice(lastComma, i - 1).trim();
    });
  }
  const VERIFY = /MYSQLI_CLIENT_SSL \| MYSQLI_CLIENT_SSL_VERIFY_SERVER_CERT/;

  test('the configuration asks WordPress to verify it: TLS alone verifies nothing', () => {
    const config = writeConfig({ WP_DB_READER_HOST: 'reader.example', WP_DB_ENGINE: 'aurora-mysql', WP_COOKIE_HASH: '0123456789abcdef0123456789abcdef' });
    expect(config).toMatch(new RegExp(`define\\('MYSQL_CLIENT_FLAGS', ${VERIFY.source}\\);`));
    // The cookie names are the stack's (CloudFront's cache key names them), not derived from the site URL.
    expect(config).toContain("define('COOKIEHASH', '0123456789abcdef0123456789abcdef');");
  });

  test('every connection of the boot files uses those flags: the readers, the install lock, the boot check, ...', () => {
    const connects = fs.readdirSync(ASSETS).filter((f) => f.endsWith('.php')).flatMap((name) =>
      lastArguments(php(name), 'mysqli_real_connect').map((flags) => ({ name, flags })));
    expect(connects.map((c) => c.name)).toEqual(expect.arrayContaining(['db.php', 'install.php', 'verify-db-tls.php']));
    for (const { name, flags } of connects) {
      if (name === 'verify-db-tls.php') {
        expect(flags).toMatch(VERIFY);
      } else {
        expect(`${name}: ${flags}`).toMatch(/: (MYSQL_CLIENT_FLAGS|\$flags)$/);
      }
    }
    expect(php('db.php')).toMatch(/\$flags = defined\('MYSQL_CLIENT_FLAGS'\) \? MYSQL_CLIENT_FLAGS : 0;/);
  });

  test('the boot checks it right after reading the secrets, before writing the configuration', () => {
    const steps = [...BOOT.matchAll(/^at ["'](.*)["']$/gm)].map((m) => m[1]);
    const verify = steps.indexOf("verifying the database's TLS certificate");
    expect(verify).toBe(steps.indexOf('reading secrets') + 1);
    expect(steps[verify + 1]).toBe('writing the WordPress configuration');
  });
});

describe('a failed boot', () => {
  test('writes its reason to the console, which EC2 keeps for get-console-output', () => {
    expect(shellFunction('on_error')).toMatch(/echo "scalable-wordpress: boot \$failed" .*>\/dev\/console \|\| true/);
  });

  /**
   * Runs the script's on_error and at() around BODY. The console and the signals are files here, appended to
   * as a real console is: what a subshell writes there is not lost in a $(...).
   */
  function fail(body: string): { status: number | null; output: string; console: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fail-'));
    try {
      const console = path.join(dir, 'console');
      const signals = path.join(dir, 'signals');
      const script = [
        'set -Eeuo pipefail',
        'INSTANCE_ID=i-0test',
        'step() { echo "step: $*"; }',
        `signal() { echo "signal $1" >> ${signals}; }`,
        shellFunction('on_error').replace(/>\/dev\/console/g, `>>${console}`),
        "trap 'on_error $LINENO' ERR",
        shellFunction('at'),
        body,
      ].join('\n');
      const run = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
      const read = (file: string) => fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      return { status: run.status, output: run.stdout + run.stderr + read(signals), console: read(console) };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  test('reports once, signals FAILURE once, and exits with the failed command\'s status', () => {
    const { status, output, console } = fail("at 'reading secrets'\nfalse\necho never");
    expect(status).toBe(1);
    expect(output.match(/step: FAILED at line \d+ \(exit 1\) during: reading secrets/g)).toHaveLength(1);
    expect(output.match(/signal FAILURE/g)).toHaveLength(1);
    expect(output).not.toMatch(/never/);
    expect(console).toMatch(/^scalable-wordpress: boot FAILED at line \d+ \(exit 1\) during: reading secrets\n$/);
  });

  test('a command that fails inside $(...) is reported once, by the script, not also by the subshell', () => {
    const { status, output, console } = fail("at 'reading secrets'\nsecret() { sh -c 'exit 254'; }\nvalue=$(secret)\necho never $value");
    expect(status).toBe(254);
    expect(output.match(/signal FAILURE/g)).toHaveLength(1);
    expect(console.match(/FAILED/g)).toHaveLength(1);
  });
});

describe('the configuration', () => {
  test('names the address WordPress sends mail from, when the site has one', () => {
    expect(writeConfig({ WP_MAIL_FROM: 'wordpress@example.com' })).toContain("define('SCALABLE_WP_MAIL_FROM', 'wordpress@example.com');");
    expect(writeConfig({ WP_MAIL_FROM: '' })).not.toContain('SCALABLE_WP_MAIL_FROM');
  });

  test('gives the object cache drop-in its endpoint, TLS and user, when the site has a cache', () => {
    const config = writeConfig({ WP_CACHE_HOST: 'cache.example', WP_CACHE_PORT: '6379' },
      JSON.stringify({ username: 'wordpress', password: "p'\\$x" }));
    expect(config).toContain("define('SCALABLE_WORDPRESS_CACHE_HOST', 'cache.example');");
    expect(config).toContain("define('SCALABLE_WORDPRESS_CACHE_PORT', 6379);");
    expect(config).toContain("define('SCALABLE_WORDPRESS_CACHE_TLS', true);");
    expect(config).toContain("define('SCALABLE_WORDPRESS_CACHE_USER', 'wordpress');");
    expect(config).toContain("define('SCALABLE_WORDPRESS_CACHE_PASSWORD', 'p\\'\\\\$x');");
    expect(config).toContain("define('WP_CACHE_KEY_SALT', 'wp01234567:');");
    expect(writeConfig({ WP_CACHE_HOST: '' })).not.toContain('SCALABLE_WORDPRESS_CACHE');
  });

  test('fails when the site has a cache but its secret is not a username and password', () => {
    expect(() => writeConfig({ WP_CACHE_HOST: 'cache.example', WP_CACHE_PORT: '6379' }, '{}')).toThrow(/the cache secret is not JSON/);
  });

  test('boot.sh installs the object cache drop-in only for a site with a cache, and removes it otherwise', () => {
    expect(BOOT).toMatch(/if \[ -n "\$WP_CACHE_HOST" \]; then\n\s+install -m 0644 "\$HERE\/object-cache.php" "\$WP_CONTENT\/object-cache.php"\nelse\n\s+rm -f "\$WP_CONTENT\/object-cache.php"/);
  });

  test('boot.sh exports every variable write-config.php reads (site.env is sourced, not exported)', () => {
    const read = [...fs.readFileSync(path.join(ASSETS, 'write-config.php'), 'utf8').matchAll(/(?:env|getenv)\('(WP_[A-Z_]+)'/g)].map((m) => m[1]);
    const exportLine = commandLines(BOOT).find((line) => /^export WP_/.test(line.trim()))!;
    const exported = exportLine.trim().split(/\s+/).slice(1);
    expect(read.length).toBeGreaterThan(5);
    for (const name of new Set(read)) {
      expect([name, exported.includes(name)]).toEqual([name, true]);
    }
  });
});
