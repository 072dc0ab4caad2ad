import { ChildProcess, execFile, execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

// The object-cache.php drop-in, run by PHP (one process per WordPress request, on any instance of a site)
// against a stand-in for the options table and a real redis-server that this test starts on a loopback port,
// with an ACL user and the default user disabled, as ElastiCache's RBAC has it. Each test is a site of its own:
// its key salt, and its options table shared by its requests.
const DROP_IN = path.join(__dirname, '..', '..', 'assets', 'boot', 'object-cache.php');
const HARNESS = path.join(__dirname, 'object-cache-harness.php');
const USER = 'wordpress';
const PASSWORD = 'cache-password';
const GENERATION = /^\d{10}-[0-9a-f]{16}$/;

jest.setTimeout(60_000);

interface Server {
  readonly process: ChildProcess;
  readonly port: number;
}

interface Site {
  readonly salt: string;
  readonly db: string;
}

interface Options {
  /** Whether an Aurora reader answered a query of the request (db.php's flag). */
  readonly reader?: boolean;
  readonly multisite?: boolean;
  /** Constants over the defaults; null leaves one undefined. */
  readonly constants?: Record<string, string | number | boolean | null>;
  /** The cache's port never answers a connection. */
  readonly silentPort?: boolean;
  /** PHP without its extensions: no php-redis. */
  readonly noExtensions?: boolean;
}

interface Answer {
  readonly result: any;
  readonly queries: string[];
  readonly callerKept: boolean;
  readonly seconds: number;
  /** The lines the request wrote to PHP's error log. */
  readonly log: string[];
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'object-cache-'));
let redis: Server;
let tlsRedis: Server;
let sites = 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

async function startRedis(listen: (port: number) => string[]): Promise<Server> {
  const port = await freePort();
  const child = spawn('redis-server', [...listen(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--maxmemory-policy', 'volatile-lru', '--user', 'default', 'off', '--user', USER, 'on', `>${PASSWORD}`, '~*', '+@all',
    // A user that gets an error reply to the drop-in's scripts.
    '--user', 'noscripts', 'on', `>${PASSWORD}`, '~*', '+@all', '-@scripting']);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    child.stdout!.on('data', (data) => {
      out += data;
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
  return { process: child, port };
}

function stopRedis(server: Server | undefined): Promise<void> {
  if (!server || server.process.exitCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    server.process.on('exit', () => resolve());
    server.process.kill('SIGCONT');
    server.process.kill('SIGTERM');
  });
}

beforeAll(async () => {
  const missing = 'redis-server (with redis-cli) and php-redis are needed: apt-get install redis-server php-redis';
  for (const command of ['redis-server', 'redis-cli', 'openssl']) {
    if (spawnSync(command, ['--version']).status !== 0 && spawnSync(command, ['version']).status !== 0) {
      throw new Error(`${command} is missing. ${missing}${command === 'openssl' ? ' openssl' : ''}`);
    }
  }
  if (spawnSync('php', ['-r', 'exit(class_exists("Redis") ? 0 : 1);']).status !== 0) {
    throw new Error(`php-redis is missing. ${missing}`);
  }
  redis = await startRedis((port) => ['--port', String(port)]);
  // A throwaway self-signed certificate for 127.0.0.1.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(tmp, 'key.pem'), '-out', path.join(tmp, 'cert.pem')], { stdio: 'ignore' });
  tlsRedis = await startRedis((port) => ['--port', '0', '--tls-port', String(port), '--tls-auth-clients', 'no',
    '--tls-cert-file', path.join(tmp, 'cert.pem'), '--tls-key-file', path.join(tmp, 'key.pem'), '--tls-ca-cert-file', path.join(tmp, 'cert.pem')]);
});

afterAll(async () => {
  await stopRedis(redis);
  await stopRedis(tlsRedis);
  fs.rmSync(tmp, { recursive: true, force: true });
});

function newSite(table: object = { table: true, options: {} }): Site {
  sites++;
  const db = path.join(tmp, `site${sites}.json`);
  fs.writeFileSync(db, JSON.stringify(table));
  return { salt: `site${sites}:`, db };
}

function option(site: Site): { value: string; autoload: string } | undefined {
  return JSON.parse(fs.readFileSync(site.db).toString()).options?.scalable_wordpress_cache_generation;
}

const generation = (site: Site) => option(site)?.value;

function phpArgs(site: Site, code: string, options: Options): { args: string[]; log: string } {
  sites++;
  const file = path.join(tmp, `request${sites}.json`);
  const log = path.join(tmp, `request${sites}.log`);
  const constants = Object.fromEntries(Object.entries({
    SCALABLE_WORDPRESS_CACHE_HOST: '127.0.0.1',
    SCALABLE_WORDPRESS_CACHE_PORT: redis.port,
    SCALABLE_WORDPRESS_CACHE_USER: USER,
    SCALABLE_WORDPRESS_CACHE_PASSWORD: PASSWORD,
    SCALABLE_WORDPRESS_CACHE_TLS: false,
    WP_CACHE_KEY_SALT: site.salt,
    ...options.constants,
  }).filter(([, value]) => value !== null));
  fs.writeFileSync(file, JSON.stringify({
    dropIn: DROP_IN,
    constants,
    db: site.db,
    code,
    multisite: options.multisite ?? false,
    reader: options.reader ?? false,
    silentPort: options.silentPort ?? false,
  }));
  // Every warning is shown (on stdout, where it breaks the JSON); error_log goes to a file of the request's.
  const ini = ['-d', 'display_errors=1', '-d', 'error_reporting=-1', '-d', 'log_errors=0', '-d', `error_log=${log}`];
  return { args: [...(options.noExtensions ? ['-n'] : []), ...ini, HARNESS, file], log };
}

function toAnswer(stdout: string, stderr: string, status: number | null, log: string): Answer {
  if (status !== 0 || stderr !== '') {
    throw new Error(`php failed (${status}): ${stderr}${stdout}`);
  }
  let parsed;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new Error(`the request printed more than its answer: ${stdout}`);
  }
  const lines = fs.existsSync(log) ? fs.readFileSync(log).toString().split('\n').filter(Boolean) : [];
  return { ...parsed, log: lines };
}

/** One WordPress request: `code` runs after wp_cache_init. */
function request(site: Site, code: string, options: Options = {}): Answer {
  const { args, log } = phpArgs(site, code, options);
  const run = spawnSync('php', args);
  return toAnswer(run.stdout.toString(), run.stderr.toString(), run.status, log);
}

function requestAsync(site: Site, code: string, options: Options = {}): Promise<Answer> {
  const { args, log } = phpArgs(site, code, options);
  return new Promise((resolve, reject) => {
    execFile('php', args, (error, stdout, stderr) => {
      try {
        resolve(toAnswer(stdout, stderr, error ? (error.code as number) : 0, log));
      } catch (e) {
        reject(e);
      }
    });
  });
}

function cli(...args: string[]): string {
  return execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(redis.port), '--user', USER, '--pass', PASSWORD,
    '--no-auth-warning', ...args]).toString().trim();
}

const keysOf = (site: Site) => cli('--scan', '--pattern', `${site.salt}*`).split('\n').filter(Boolean).sort();

function calls(): Record<string, number> {
  return Object.fromEntries([...cli('INFO', 'commandstats').matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].map((m) => [m[1], Number(m[2])]));
}

/** A generation and group generations an hour old: outside the fence, as on a site that has been running. */
function settle(site: Site, ...groups: string[]) {
  const then = Math.floor(Date.now() / 1000) - 3600;
  const value = `${then}-0123456789abcdef`;
  fs.writeFileSync(site.db, JSON.stringify({ table: true, options: { scalable_wordpress_cache_generation: { value, autoload: 'off' } } }));
  for (const group of groups) {
    cli('SET', `${site.salt}${value}:{${group}}`, `${then}-fedcba9876543210`, 'EX', '3600');
  }
}

const upserts = (answer: Answer) => answer.queries.filter((q) => q.includes('ON DUPLICATE KEY UPDATE'));

describe('object-cache.php', () => {
  test.each([['undefined', null], ['empty', '']])('with SCALABLE_WORDPRESS_CACHE_HOST %s it is WordPress\'s runtime cache, and no query but for a change', (_, host) => {
    const site = newSite();
    const options = { constants: { SCALABLE_WORDPRESS_CACHE_HOST: host } };
    const reads = request(site, 'return [wp_cache_get(\'k\'), wp_cache_get_multiple([\'a\', \'b\'], \'g\'), wp_cache_add_non_persistent_groups(\'np\'), wp_cache_set(\'k\', 1, \'np\')];', options);
    expect(reads.result).toEqual([false, { a: false, b: false }, null, true]);
    expect(reads.queries).toEqual([]);
    const changes = request(site, `
      wp_cache_set('k', 'v'); wp_cache_set('n', 1, 'g');
      return [wp_cache_get('k'), wp_cache_incr('n', 2, 'g'), wp_cache_add('k', 'w'), wp_cache_delete('k'),
        wp_cache_get('k', '', false, $found), $found, wp_cache_flush(), wp_cache_get('n', 'g')];`, options);
    expect(changes.result).toEqual(['v', 3, false, true, false, false, true, false]);
    // The drop-in is on a site with a cache only: an instance without the constants booted before the cache, and
    // its changes move the generation on, so that the instances that use the cache drop what those changes replaced.
    expect(changes.queries).toEqual([expect.stringMatching(/ON DUPLICATE KEY UPDATE/), expect.stringMatching(/ON DUPLICATE KEY UPDATE/)]); // the change, the flush
    expect(changes.log).toEqual([]);
    request(site, 'return wp_cache_set(\'shared\', 1);', options);
    expect(request(site, 'return wp_cache_get(\'shared\');', options).result).toBe(false);
    expect(keysOf(site)).toEqual([]);
  });

  test('an instance without SCALABLE_WORDPRESS_CACHE_HOST leaves no stale object for those with it', () => {
    const site = newSite();
    request(site, 'return wp_cache_set(\'post\', \'before\', \'posts\');');
    request(site, 'return wp_cache_delete(\'post\', \'posts\');', { constants: { SCALABLE_WORDPRESS_CACHE_HOST: null } });
    expect(request(site, 'return wp_cache_get(\'post\', \'posts\');').result).toBe(false);
  });

  test('implements the object cache API as core\'s cache does', () => {
    const site = newSite();
    const { result } = request(site, `
      $r = [];
      $r['add'] = [wp_cache_add('k', 'v'), wp_cache_add('k', 'w'), wp_cache_get('k')];
      $r['replace'] = [wp_cache_replace('k', 'x'), wp_cache_replace('missing', 'x'), wp_cache_get('k'), wp_cache_get('missing')];
      wp_cache_set('false', false);
      $r['found'] = [wp_cache_get('false', '', false, $a), $a, wp_cache_get('missing', '', false, $b), $b];
      $r['invalid keys'] = [wp_cache_set('', 'v'), wp_cache_get(' '), wp_cache_add(null, 1), wp_cache_delete([]), wp_cache_get([], '', false, $c), $c, count($GLOBALS['wrong'])];
      $GLOBALS['suspend'] = true;
      $r['suspended'] = [wp_cache_add('other', 1), wp_cache_set('other', 2)];
      $GLOBALS['suspend'] = false;
      $r['add_multiple'] = wp_cache_add_multiple(['a' => 1, 'k' => 2]);
      $r['set_multiple'] = wp_cache_set_multiple(['b' => 2, 'c' => 3], 'g');
      $r['get_multiple'] = wp_cache_get_multiple(['b', 'c', 'nope'], 'g');
      $r['delete_multiple'] = wp_cache_delete_multiple(['b', 'nope'], 'g');
      $r['incr'] = [wp_cache_incr('nope'), wp_cache_set('word', 'abc'), wp_cache_incr('word', 5), wp_cache_set('s', '4'), wp_cache_incr('s'), wp_cache_get('s')];
      $r['decr'] = [wp_cache_set('n', 3), wp_cache_decr('n', 10), wp_cache_get('n'), wp_cache_decr('nope'), wp_cache_set('t', '2'), wp_cache_decr('t', 5)];
      $r['flush_runtime'] = [wp_cache_set('x', 1), wp_cache_flush_runtime(), $GLOBALS['wp_object_cache']->cache, wp_cache_get('x')];
      $r['supports'] = array_values(array_filter(['add_multiple', 'set_multiple', 'get_multiple', 'delete_multiple', 'flush_runtime', 'flush_group', 'nonsense'], 'wp_cache_supports'));
      $r['close'] = wp_cache_close();
      $r['reset'] = [wp_cache_reset(), end($GLOBALS['wrong'])];
      $r['class'] = get_class($GLOBALS['wp_object_cache']);
      return $r;`);
    expect(result).toEqual({
      'add': [true, false, 'v'],
      'replace': [true, false, 'x', false],
      'found': [false, true, false, false],
      'invalid keys': [false, false, false, false, false, false, 5],
      'suspended': [false, true],
      'add_multiple': { a: true, k: false },
      'set_multiple': { b: true, c: true },
      'get_multiple': { b: 2, c: 3, nope: false },
      'delete_multiple': { b: true, nope: false },
      'incr': [false, true, 5, true, 5, 5],
      'decr': [true, 0, 0, false, true, 0],
      'flush_runtime': [true, true, [], 1],
      'supports': ['add_multiple', 'set_multiple', 'get_multiple', 'delete_multiple', 'flush_runtime', 'flush_group'],
      'close': true,
      'reset': [false, 'wp_cache_reset'],
      'class': 'WP_Object_Cache',
    });
  });

  test('a set in one process is read by the next get in another, of the same type; a delete likewise', () => {
    const site = newSite();
    const values = `['array' => ['a' => [1, 2]], 'false' => false, 'null' => null, 'int' => 42, 'negative' => -3, 'float' => 1.5,
      'numeric string' => '42', 'serialized-looking string' => 'i:5;', 'tombstone-looking string' => '!deleted', 'object' => (object) ['x' => 1]]`;
    request(site, `foreach (${values} as $key => $value) { wp_cache_set($key, $value, 'types'); } return true;`);
    const read = request(site, `$same = [];
      foreach (${values} as $key => $value) {
        $got = wp_cache_get($key, 'types', false, $found);
        $same[$key] = $found && gettype($got) === gettype($value) && $got == $value;
      }
      return $same;`);
    expect(Object.values(read.result)).toEqual(Array(10).fill(true));
    expect(request(site, 'return wp_cache_delete(\'int\', \'types\');').result).toBe(true);
    expect(request(site, 'return [wp_cache_get(\'int\', \'types\', false, $found), $found, wp_cache_get(\'float\', \'types\')];').result).toEqual([false, false, 1.5]);
  });

  test('clones objects on set and get, so that callers cannot change the cached copy', () => {
    const site = newSite();
    const { result } = request(site, `
      wp_cache_add_non_persistent_groups('np');
      $out = [];
      foreach (['persistent', 'np'] as $group) {
        $object = (object) ['n' => 1];
        wp_cache_set('o', $object, $group);
        $object->n = 2;
        $got = wp_cache_get('o', $group);
        $got->n = 3;
        $out[$group] = wp_cache_get('o', $group)->n;
      }
      return $out;`);
    expect(result).toEqual({ persistent: 1, np: 1 });
  });

  test('keeps non-persistent groups in the request: they never reach Redis', () => {
    const site = newSite();
    const code = 'wp_cache_add_non_persistent_groups([\'counts\']); $before = wp_cache_get(\'k\', \'counts\'); wp_cache_set(\'k\', 1, \'counts\'); return [$before, wp_cache_get(\'k\', \'counts\')];';
    expect(request(site, code).result).toEqual([false, 1]);
    expect(request(site, code).result).toEqual([false, 1]);
    expect(keysOf(site)).toEqual([]);
  });

  test('get_multiple reads a group with one MGET; $force reads Redis past the runtime copy', () => {
    const site = newSite();
    request(site, 'return wp_cache_set_multiple([\'a\' => 1, \'b\' => 2, \'c\' => 3], \'posts\');');
    const before = calls();
    const { result } = request(site, 'return wp_cache_get_multiple([\'a\', \'b\', \'c\', \'d\'], \'posts\');');
    const after = calls();
    expect(result).toEqual({ a: 1, b: 2, c: 3, d: false });
    expect((after.mget ?? 0) - (before.mget ?? 0)).toBe(1);
    expect(after.get - before.get).toBe(1); // the group's generation, read by its script
    // $force: the runtime copy is passed over for Redis's, which another connection changed meanwhile.
    const forced = request(site, `
      $before = [wp_cache_get('a', 'posts'), wp_cache_get_multiple(['b'], 'posts')['b']];
      $redis = raw_redis();
      foreach ($redis->keys('${site.salt}*{posts}*') as $key) { $redis->set($key, '9'); }
      return [$before, wp_cache_get('a', 'posts'), wp_cache_get('a', 'posts', true), wp_cache_get_multiple(['b'], 'posts', true)['b']];`);
    expect(forced.result).toEqual([[1, 2], 1, 9, 9]);
  });

  test('gives every key a lifetime, a day when expire is 0, so that the cache can evict', () => {
    const site = newSite();
    request(site, 'wp_cache_set(\'day\', 1); wp_cache_add(\'added\', 1, \'posts\'); wp_cache_set(\'minute\', 1, \'\', 60); wp_cache_set(\'gone\', 1); wp_cache_delete(\'gone\'); wp_cache_flush_group(\'flushed\'); return true;');
    const ttls = Object.fromEntries(keysOf(site).map((key) => [key.replace(/^.*[:}]/, '') || key.replace(/^.*\{/, '{'), Number(cli('TTL', key))]));
    expect(Object.keys(ttls).sort()).toEqual(['added', 'day', 'gone', 'minute', '{default}', '{flushed}', '{posts}']);
    expect(ttls.day).toBeGreaterThan(86_390);
    expect(ttls.day).toBeLessThanOrEqual(86_400);
    expect(ttls.added).toBeGreaterThan(86_390);
    expect(ttls.minute).toBeLessThanOrEqual(60);
    expect(ttls.gone).toBeLessThanOrEqual(10); // the tombstone
    for (const group of ['{default}', '{flushed}', '{posts}']) {
      expect(ttls[group]).toBeGreaterThan(86_400);
      expect(ttls[group]).toBeLessThanOrEqual(604_800);
    }
    expect(Object.values(ttls).every((ttl) => ttl > 0)).toBe(true);
  });

  test('names keys salt, generation, blog id (outside global groups), {group} with its generation, key', () => {
    const site = newSite();
    request(site, 'wp_cache_add_global_groups([\'users\']); wp_cache_set(42, 1, \'posts\'); wp_cache_set(\'admin\', 1, \'users\'); return true;', { multisite: true });
    const gen = generation(site)!;
    expect(gen).toMatch(GENERATION);
    const escaped = `${site.salt}${gen}:`.replace(/[-:]/g, '\\$&');
    expect(keysOf(site).filter((key) => !key.endsWith('}'))).toEqual([
      expect.stringMatching(new RegExp(`^${escaped}1:\\{posts\\}\\d{10}-[0-9a-f]{16}:42$`)),
      expect.stringMatching(new RegExp(`^${escaped}\\{users\\}\\d{10}-[0-9a-f]{16}:admin$`)),
    ]);
  });

  test('shares global groups across blogs; other groups carry the blog id', () => {
    const site = newSite();
    const options = { multisite: true };
    request(site, 'wp_cache_add_global_groups([\'users\']); wp_cache_set(\'u\', \'shared\', \'users\'); wp_cache_set(\'p\', \'blog 1\', \'posts\'); return true;', options);
    const read = 'wp_cache_add_global_groups([\'users\']); return [wp_cache_get(\'u\', \'users\'), wp_cache_get(\'p\', \'posts\')];';
    expect(request(site, read, options).result).toEqual(['shared', 'blog 1']);
    expect(request(site, `wp_cache_switch_to_blog(2); ${read}`, options).result).toEqual(['shared', false]);
    // In one request too: switching blogs changes the runtime copy's key as well.
    expect(request(site, `${read.replace('return', '$one =')} wp_cache_switch_to_blog(2); ${read.replace('return', '$two =')} return [$one, $two];`, options).result)
      .toEqual([['shared', 'blog 1'], ['shared', false]]);
  });

  test('reads the generation with one small query per request, leaving $wpdb\'s last results to the caller', () => {
    const site = newSite();
    request(site, 'return true;');
    const busy = request(site, 'wp_cache_set(\'a\', 1); wp_cache_get(\'b\'); wp_cache_delete(\'a\'); wp_cache_flush_group(\'g\'); return true;');
    expect(busy.queries).toEqual(['SELECT option_value FROM wp_options WHERE option_name = \'scalable_wordpress_cache_generation\'']);
    expect(busy.callerKept).toBe(true);
  });

  test('inserts a missing generation row (INSERT IGNORE) with a random value, autoload off', () => {
    const [one, two] = [newSite(), newSite()];
    const first = request(one, 'return true;');
    request(two, 'return true;');
    expect(first.queries).toEqual([
      'SELECT option_value FROM wp_options WHERE option_name = \'scalable_wordpress_cache_generation\'',
      expect.stringMatching(/^INSERT IGNORE INTO wp_options \(option_name, option_value, autoload\) VALUES \('scalable_wordpress_cache_generation', '[-0-9a-f]+', 'off'\)$/),
      'SELECT option_value FROM wp_options WHERE option_name = \'scalable_wordpress_cache_generation\'',
    ]);
    expect(first.callerKept).toBe(true);
    expect(option(one)).toEqual({ value: expect.stringMatching(GENERATION), autoload: 'off' });
    expect(generation(one)).not.toEqual(generation(two));
  });

  test('uses no persistent cache without the options table (WordPress not installed), without a word', () => {
    const site = newSite({ table: false });
    const answer = request(site, 'return [wp_cache_set(\'k\', 1), wp_cache_get(\'k\'), wp_cache_delete(\'k\'), wp_cache_flush()];');
    expect(answer.result).toEqual([true, 1, true, true]);
    expect(answer.log).toEqual([]);
    expect(request(site, 'wp_cache_set(\'k\', 1); return true;').log).toEqual([]);
    expect(request(site, 'return wp_cache_get(\'k\');').result).toBe(false);
    expect(keysOf(site)).toEqual([]);
  });

  test('wp_cache_flush moves the generation on in the database, so that every process drops every key', () => {
    const site = newSite();
    request(site, 'wp_cache_set(\'k\', 1); wp_cache_set(\'u\', 1, \'users\'); return true;');
    const before = generation(site);
    const flush = request(site, 'return [wp_cache_flush(), wp_cache_get(\'k\')];');
    expect(flush.result).toEqual([true, false]);
    expect(upserts(flush)).toEqual([expect.stringMatching(/^INSERT INTO wp_options \(option_name, option_value, autoload\) VALUES \('scalable_wordpress_cache_generation', '[-0-9a-f]+', 'off'\) ON DUPLICATE KEY UPDATE option_value = '[-0-9a-f]+'$/)]);
    expect(generation(site)).toMatch(GENERATION);
    expect(generation(site)).not.toEqual(before);
    expect(request(site, 'return [wp_cache_get(\'k\'), wp_cache_get(\'u\', \'users\')];').result).toEqual([false, false]);
  });

  test('wp_cache_flush during install: nothing to do before the options table, the row written once it exists', () => {
    const site = newSite({ table: false });
    // As wp_install(): flush, create the tables, flush again.
    const install = request(site, `
      $first = wp_cache_flush();
      file_put_contents('${site.db}', json_encode(['table' => true, 'options' => []]));
      return [$first, wp_cache_flush(), wp_cache_set('k', 1), wp_cache_get('k')];`);
    expect(install.result).toEqual([true, true, true, 1]);
    expect(install.log).toEqual([]);
    expect(option(site)).toEqual({ value: expect.stringMatching(GENERATION), autoload: 'off' });
    expect(keysOf(site)).toEqual([]); // the install request itself kept to its runtime array
    request(site, 'return wp_cache_set(\'k\', 2);');
    expect(request(site, 'return wp_cache_get(\'k\');').result).toBe(2);
  });

  test('wp_cache_flush_group drops one group\'s keys for every process', () => {
    const site = newSite();
    request(site, 'wp_cache_set(\'a\', 1, \'posts\'); wp_cache_set(\'b\', 2, \'terms\'); return true;');
    expect(request(site, 'return [wp_cache_flush_group(\'posts\'), wp_cache_get(\'a\', \'posts\')];').result).toEqual([true, false]);
    expect(request(site, 'return [wp_cache_get(\'a\', \'posts\'), wp_cache_get(\'b\', \'terms\')];').result).toEqual([false, 2]);
  });

  test('incr and decr add up in Redis (INCRBY) across concurrent processes, floored at 0', async () => {
    const site = newSite();
    request(site, 'return wp_cache_set(\'n\', 0, \'counts\');');
    const before = calls();
    await Promise.all([1, 2, 3, 4].map(() => requestAsync(site, 'for ($i = 0; $i < 50; $i++) { wp_cache_incr(\'n\', 1, \'counts\'); } return true;')));
    expect(calls().incrby - (before.incrby ?? 0)).toBe(200);
    expect(request(site, 'return wp_cache_get(\'n\', \'counts\');').result).toBe(200);
    expect(request(site, 'return [wp_cache_decr(\'n\', 150, \'counts\'), wp_cache_decr(\'n\', 100, \'counts\')];').result).toEqual([50, 0]);
    expect(request(site, 'return wp_cache_get(\'n\', \'counts\');').result).toBe(0);
  });

  describe('when the cache cannot be reached', () => {
    test('the request runs from the runtime array, with no warning shown and one line logged', async () => {
      const site = newSite();
      const answer = request(site, `
        wp_cache_set('k', 1); wp_cache_add('a', 2, 'posts'); wp_cache_incr('k');
        return [wp_cache_get('k'), wp_cache_get_multiple(['a', 'b'], 'posts'), wp_cache_delete('k'), wp_cache_get('k')];`,
      { constants: { SCALABLE_WORDPRESS_CACHE_PORT: await freePort() } });
      expect(answer.result).toEqual([2, { a: 2, b: false }, true, false]);
      expect(answer.log).toEqual([expect.stringContaining('cdk-scalable-wordpress: the object cache is unreachable')]);
    });

    test('a host that does not answer costs the request one connect timeout (0.5 s): one attempt', () => {
      const site = newSite();
      const answer = request(site, 'foreach ([\'a\', \'b\', \'c\', \'d\'] as $g) { wp_cache_get(\'k\', $g); wp_cache_set(\'k\', 1, $g); } return wp_cache_get(\'k\', \'d\');', { silentPort: true });
      expect(answer.result).toBe(1);
      expect(answer.seconds).toBeGreaterThanOrEqual(0.45);
      expect(answer.seconds).toBeLessThan(0.95);
      expect(answer.log).toHaveLength(1);
    });

    test('a server that stops answering costs the request one read timeout (1 s): one attempt', () => {
      const site = newSite();
      request(site, 'return true;');
      redis.process.kill('SIGSTOP');
      let answer: Answer;
      try {
        answer = request(site, 'foreach ([\'a\', \'b\', \'c\', \'d\'] as $g) { wp_cache_get(\'k\', $g); wp_cache_set(\'k\', 1, $g); } return wp_cache_get(\'k\', \'d\');');
      } finally {
        redis.process.kill('SIGCONT');
      }
      expect(answer.result).toBe(1);
      expect(answer.seconds).toBeGreaterThanOrEqual(0.95);
      expect(answer.seconds).toBeLessThan(1.9);
      expect(answer.log).toHaveLength(1);
    });

    test('a change made then moves the generation on: once the cache is back, no instance serves what it replaced', () => {
      const site = newSite();
      request(site, 'return wp_cache_set(\'post\', \'before\', \'posts\');'); // cached by instance B
      const before = generation(site);
      redis.process.kill('SIGSTOP');
      let change: Answer;
      try {
        change = request(site, 'return [wp_cache_set(\'post\', \'after\', \'posts\'), wp_cache_get(\'post\', \'posts\')];'); // instance A
      } finally {
        redis.process.kill('SIGCONT');
      }
      expect(change.result).toEqual([true, 'after']);
      expect(upserts(change)).toHaveLength(1);
      expect(generation(site)).not.toEqual(before);
      expect(request(site, 'return wp_cache_get(\'post\', \'posts\');').result).toBe(false); // instance B reads the database
    });

    test.each([
      ['set', 'wp_cache_set(\'k\', 6, \'g\')'],
      ['replace', 'wp_cache_replace(\'k\', 6, \'g\')'],
      ['delete', 'wp_cache_delete(\'k\', \'g\')'],
      ['incr', 'wp_cache_incr(\'k\', 1, \'g\')'],
      ['decr', 'wp_cache_decr(\'k\', 1, \'g\')'],
      ['flush_group', 'wp_cache_flush_group(\'g\')'],
    ])('%s moves the generation on', async (_, change) => {
      const site = newSite();
      request(site, 'wp_cache_set(\'k\', 5, \'g\'); return true;');
      const offline = request(site, `${change}; return true;`, { constants: { SCALABLE_WORDPRESS_CACHE_PORT: await freePort() } });
      expect(upserts(offline)).toHaveLength(1);
      expect(request(site, 'return wp_cache_get(\'k\', \'g\');').result).toBe(false);
    });

    test('the generation moves on once per request, however many changes', async () => {
      const site = newSite();
      request(site, 'return true;');
      const offline = request(site, 'wp_cache_set(\'a\', 1); wp_cache_delete(\'b\'); wp_cache_set(\'c\', 1, \'g\'); wp_cache_flush_group(\'h\'); return true;',
        { constants: { SCALABLE_WORDPRESS_CACHE_PORT: await freePort() } });
      expect(upserts(offline)).toHaveLength(1);
    });

    test('an add, which changes nothing that Redis holds, leaves the generation alone', async () => {
      const site = newSite();
      request(site, 'return true;');
      const before = generation(site);
      const adds = request(site, 'return [wp_cache_add(\'k\', 1), wp_cache_add(\'k\', 2), wp_cache_get(\'k\', \'\', false, $found), $found];', { constants: { SCALABLE_WORDPRESS_CACHE_PORT: await freePort() } });
      expect(adds.result).toEqual([true, false, 1, true]);
      expect(upserts(adds)).toEqual([]);
      expect(generation(site)).toEqual(before);
    });

    test.each([
      ['a wrong password', { constants: { SCALABLE_WORDPRESS_CACHE_PASSWORD: 'wrong' } }],
      ['an error reply (a user that may not run scripts)', { constants: { SCALABLE_WORDPRESS_CACHE_USER: 'noscripts' } }],
      ['TLS to a server without it', { constants: { SCALABLE_WORDPRESS_CACHE_TLS: true } }],
      ['no php-redis extension', { noExtensions: true }],
    ])('%s: never shown to the visitor, logged once, and changes move the generation on', (_, options: Options) => {
      const site = newSite();
      request(site, 'return true;');
      const answer = request(site, 'wp_cache_set(\'k\', 1); wp_cache_set(\'k\', 2, \'g\'); return [wp_cache_get(\'k\'), wp_cache_get(\'k\', \'g\'), wp_cache_get(\'nope\')];', options);
      expect(answer.result).toEqual([1, 2, false]);
      expect(answer.log).toHaveLength(1);
      expect(upserts(answer)).toHaveLength(1);
    });
  });

  test('an error reply (an INCRBY past PHP_INT_MAX) counts as an outage: logged once, the generation moved on', () => {
    const site = newSite();
    request(site, 'return wp_cache_set(\'n\', PHP_INT_MAX);');
    const answer = request(site, 'return [wp_cache_incr(\'n\'), wp_cache_set(\'k\', 1), wp_cache_get(\'k\')];');
    expect(answer.result).toEqual([2 ** 63, true, 1]);
    expect(answer.log).toEqual([expect.stringContaining('increment or decrement would overflow')]);
    expect(upserts(answer)).toHaveLength(1);
    expect(request(site, 'return wp_cache_get(\'n\');').result).toBe(false);
  });

  describe('when an Aurora reader answered a query of the request (it may lag the writer)', () => {
    test('the request writes with NX only: it never overwrites a value, a set over one leaves a tombstone', () => {
      const site = newSite();
      settle(site, 'posts');
      request(site, 'wp_cache_set(\'post\', \'new\', \'posts\'); wp_cache_set(\'kept\', \'new\', \'posts\'); return true;');
      const lagging = request(site, `return [wp_cache_set('post', 'old', 'posts'), wp_cache_add('kept', 'old', 'posts'),
        wp_cache_add('fresh', 'from the replica', 'posts'), wp_cache_get('post', 'posts')];`, { reader: true });
      expect(lagging.result).toEqual([true, false, true, 'old']);
      expect(request(site, 'return [wp_cache_get(\'post\', \'posts\'), wp_cache_get(\'kept\', \'posts\'), wp_cache_get(\'fresh\', \'posts\')];').result)
        .toEqual([false, 'new', 'from the replica']);
    });

    test('a delete leaves a tombstone for 10 s: it reads as a miss, and a lagging request cannot put the old value back', () => {
      const site = newSite();
      settle(site, 'posts');
      request(site, 'return wp_cache_set(\'post\', \'before\', \'posts\');');
      expect(request(site, 'return wp_cache_delete(\'post\', \'posts\');').result).toBe(true);
      const tombstone = keysOf(site).filter((key) => key.endsWith(':post'));
      expect(tombstone).toHaveLength(1);
      expect(Number(cli('TTL', tombstone[0]))).toBeGreaterThan(0);
      expect(Number(cli('TTL', tombstone[0]))).toBeLessThanOrEqual(10);
      const read = 'return [wp_cache_get(\'post\', \'posts\', false, $found), $found];';
      for (const write of ['wp_cache_add', 'wp_cache_set']) {
        const lagging = request(site, `$read = [wp_cache_get('post', 'posts', false, $found), $found]; return [$read, ${write}('post', 'before', 'posts')];`, { reader: true });
        expect(lagging.result).toEqual([[false, false], true]);
        expect(request(site, read).result).toEqual([false, false]);
      }
      // A request that read the writer is no lagging one: its add takes the tombstone's place.
      expect(request(site, 'return [wp_cache_add(\'post\', \'after\', \'posts\'), wp_cache_get(\'post\', \'posts\', true)];').result).toEqual([true, 'after']);
    });

    test('within the fence after the generation or the group\'s generation changed, the request writes no value', () => {
      const site = newSite();
      settle(site, 'posts');
      const lagging = 'return [wp_cache_add(\'a\', \'old\', \'posts\'), wp_cache_set(\'b\', \'old\', \'posts\')];';
      const read = 'return [wp_cache_get(\'a\', \'posts\'), wp_cache_get(\'b\', \'posts\')];';
      request(site, 'return wp_cache_flush();');
      expect(request(site, lagging, { reader: true }).result).toEqual([true, true]);
      expect(request(site, read).result).toEqual([false, false]);
      settle(site, 'posts');
      request(site, 'return wp_cache_flush_group(\'posts\');');
      expect(request(site, lagging, { reader: true }).result).toEqual([true, true]);
      expect(request(site, read).result).toEqual([false, false]);
      // Outside the fence, the same request fills the cache.
      settle(site, 'posts');
      request(site, lagging, { reader: true });
      expect(request(site, read).result).toEqual(['old', 'old']);
    });
  });

  test('a value PHP cannot serialize stays in the request, and leaves no older value behind', () => {
    const site = newSite();
    request(site, 'return wp_cache_set(\'k\', \'older\');');
    expect(request(site, 'wp_cache_set(\'k\', function () { return 1; }); return wp_cache_get(\'k\')();').result).toBe(1);
    expect(request(site, 'return wp_cache_get(\'k\');').result).toBe(false);
  });

  describe('over TLS', () => {
    const tls = (constants: Options['constants']) => ({ constants: { SCALABLE_WORDPRESS_CACHE_PORT: tlsRedis.port, SCALABLE_WORDPRESS_CACHE_TLS: true, ...constants } });

    test('verifies the server against SCALABLE_WORDPRESS_CACHE_CA_FILE', () => {
      const site = newSite();
      const options = tls({ SCALABLE_WORDPRESS_CACHE_CA_FILE: path.join(tmp, 'cert.pem') });
      expect(request(site, 'return wp_cache_set(\'k\', \'over TLS\');', options).log).toEqual([]);
      expect(request(site, 'return wp_cache_get(\'k\');', options).result).toBe('over TLS');
    });

    test('verifies the server against the system\'s CAs without it: a self-signed server is refused', () => {
      const site = newSite();
      const answer = request(site, 'wp_cache_set(\'k\', 1); return wp_cache_get(\'k\');', tls({}));
      expect(answer.result).toBe(1);
      expect(answer.log).toHaveLength(1);
      expect(request(site, 'return wp_cache_get(\'k\');', tls({ SCALABLE_WORDPRESS_CACHE_CA_FILE: path.join(tmp, 'cert.pem') })).result).toBe(false);
    });
  });
});
