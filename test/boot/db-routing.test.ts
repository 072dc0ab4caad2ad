import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// The db.php drop-in's routing, run by PHP against a stand-in for WordPress's wpdb that records which
// connection each query used. Real MariaDB replication is exercised by the boot lab.
const DROP_IN = path.join(__dirname, '..', '..', 'assets', 'boot', 'db.php');
const HARNESS = path.join(__dirname, 'db-harness.php');

interface Request {
  readonly sapi?: string;
  readonly method?: string;
  readonly uri?: string;
  readonly cookies?: Record<string, string>;
  readonly reader?: 'up' | 'down' | 'dies';
  readonly authorization?: string;
}

function run(queries: string[], request: Request = {}): { log: string[]; connections: string[]; reads: boolean[]; readerAnswered: boolean } {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dbphp-')), 'input.json');
  fs.writeFileSync(file, JSON.stringify({
    dropIn: DROP_IN,
    sapi: request.sapi ?? 'fpm-fcgi',
    server: {
      REQUEST_METHOD: request.method ?? 'GET',
      REQUEST_URI: request.uri ?? '/hello-world/',
      ...(request.authorization ? { HTTP_AUTHORIZATION: request.authorization } : {}),
    },
    cookies: request.cookies ?? {},
    reader: request.reader ?? 'up',
    queries,
  }));
  return JSON.parse(execFileSync('php', [HARNESS, file]).toString());
}

const route = (queries: string[], request?: Request) => run(queries, request).log;

describe('db.php read/write splitting', () => {
  test('classifies plain reads and everything else', () => {
    const queries = [
      'SELECT * FROM wp_posts',
      '  select option_value from wp_options',
      '/* comment */ SELECT 1',
      '(SELECT 1) UNION (SELECT 2)',
      'SHOW TABLES',
      'UPDATE wp_options SET option_value = 1',
      'INSERT INTO wp_posts VALUES (1)',
      'SELECT * FROM wp_posts FOR UPDATE',
      "SELECT GET_LOCK('x', 0)",
      'SELECT LAST_INSERT_ID()',
      'START TRANSACTION',
      'SET NAMES utf8mb4',
    ];
    expect(run(queries, { sapi: 'cli' }).reads).toEqual([true, true, true, true, true, false, false, false, false, false, false, false]);
  });

  test('sends the reads of an anonymous page view to the reader', () => {
    expect(route(['SELECT a', 'SELECT b'])).toEqual(['reader: SELECT a', 'reader: SELECT b']);
  });

  test('connects an anonymous page view to the reader alone while it only reads', () => {
    expect(run(['SELECT a', 'SELECT b']).connections).toEqual(['reader']);
  });

  test('connects to the writer when a query first needs it', () => {
    const { log, connections } = run(['SELECT a', 'UPDATE t SET x = 1', 'SELECT b']);
    expect(connections).toEqual(['reader', 'writer']);
    expect(log).toEqual(['reader: SELECT a', 'writer: UPDATE t SET x = 1', 'writer: SELECT b']);
  });

  test('connects to the writer alone for a request that may not use the readers', () => {
    expect(run(['SELECT a'], { method: 'POST' }).connections).toEqual(['writer']);
  });

  test('connects to the writer at once when the reader is unreachable', () => {
    expect(run(['SELECT a'], { reader: 'down' }).connections).toEqual(['reader', 'writer']);
  });

  test('pins the request to the writer after its first write', () => {
    expect(route(['SELECT a', 'UPDATE t SET x = 1', 'SELECT b'])).toEqual([
      'reader: SELECT a', 'writer: UPDATE t SET x = 1', 'writer: SELECT b',
    ]);
  });

  test('keeps FOUND_ROWS() on the connection of the query it counts', () => {
    expect(route(['SELECT SQL_CALC_FOUND_ROWS * FROM wp_posts', 'SELECT FOUND_ROWS()']))
      .toEqual(['reader: SELECT SQL_CALC_FOUND_ROWS * FROM wp_posts', 'reader: SELECT FOUND_ROWS()']);
    expect(route(['UPDATE t SET x = 1', 'SELECT SQL_CALC_FOUND_ROWS * FROM wp_posts', 'SELECT FOUND_ROWS()']))
      .toEqual(['writer: UPDATE t SET x = 1', 'writer: SELECT SQL_CALC_FOUND_ROWS * FROM wp_posts', 'writer: SELECT FOUND_ROWS()']);
  });

  test.each([
    ['a logged-in user', { cookies: { wordpress_logged_in_0123456789abcdef0123456789abcdef: 'admin|x' } }],
    ['a commenter', { cookies: { comment_author_0123456789abcdef0123456789abcdef: 'Ann' } }],
    ['a visitor of a password-protected post', { cookies: { 'wp-postpass_0123456789abcdef0123456789abcdef': 'x' } }],
    ['a POST', { method: 'POST' }],
    ['wp-admin', { uri: '/wp-admin/edit.php' }],
    ['the login page', { uri: '/wp-login.php?action=lostpassword' }],
    ['wp-cron', { uri: '/wp-cron.php' }],
    ['XML-RPC', { uri: '/xmlrpc.php' }],
    ['command-line PHP (cron, install)', { sapi: 'cli' }],
    ['a client with credentials (an application password)', { authorization: 'Basic YWRtaW46eA==' }],
  ])('sends every query of %s to the writer', (_, request) => {
    expect(route(['SELECT a', 'SELECT b'], request)).toEqual(['writer: SELECT a', 'writer: SELECT b']);
  });

  test('lets anonymous visitors with other cookies read from the reader', () => {
    expect(route(['SELECT a'], { cookies: { wordpress_test_cookie: 'WP Cookie check', _ga: 'x' } })).toEqual(['reader: SELECT a']);
  });

  test('falls back to the writer when the reader is unreachable', () => {
    expect(route(['SELECT a', 'SELECT b'], { reader: 'down' })).toEqual(['writer: SELECT a', 'writer: SELECT b']);
  });

  test('moves to the writer for good when the reader dies mid-request', () => {
    expect(route(['SELECT a', 'SELECT b'], { reader: 'dies' })).toEqual(['writer: SELECT a', 'writer: SELECT b']);
  });

  test('tells the object cache whether a reader answered a query of the request', () => {
    expect(run(['SELECT a']).readerAnswered).toBe(true);
    expect(run(['UPDATE t SET x = 1', 'SELECT a']).readerAnswered).toBe(false);
    expect(run(['SELECT a', 'UPDATE t SET x = 1']).readerAnswered).toBe(true);
    expect(run(['SELECT a'], { method: 'POST' }).readerAnswered).toBe(false);
    expect(run(['SELECT a'], { reader: 'down' }).readerAnswered).toBe(false);
    expect(run(['SELECT a'], { reader: 'dies' }).readerAnswered).toBe(false);
  });
});
