#!/usr/bin/env python3
"""The benchmark's measurements and its report (run by benchmarks/run.sh, which boots the instances).

  bench.py measure CONFIG.json OUT.json       every web figure, against the instances CONFIG names
  bench.py measure-edge CONFIG.json OUT.json  the site behind the edge stand-in: throughput, publish to visible
  bench.py report DIR EDGE.json SYNTH.json WEB.json...  DIR/results.json and DIR/RESULTS.md, targets checked
                                              (one WEB.json per latency setting: local, aws)

Throughput comes from wrk; the checks that need to read every response (privacy, staleness) from a
Python client; queries per request from MariaDB's user statistics (per client address), wp-content calls per
request from the EFS stand-in's counters (lab/efsfs.c). Every figure is measured in this run: nothing here is a
constant but the targets.
"""
import http.client
import json
import os
import platform
import random
import re
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

CONCURRENCY = [1, 8, 32]
UNCACHED_CONCURRENCY = [1, 8]  # pages the page cache cannot answer, and logged-in pages: PHP renders each
SETTINGS = ('local', 'aws')    # the lab's latency settings (lab/latency.sh), in the order they are reported
SETTING_NAMES = {'local': 'local latency', 'aws': 'AWS latency'}
TARGETS = {
    'anonymous_vs_stock': 10.0,      # ours / stock, anonymous req/s
    'anonymous_vs_ceiling': 0.5,     # ours / static file, anonymous req/s
    'logged_in_vs_stock': 1.0,       # ours / stock, logged-in req/s
    # At the AWS latency setting (issue 14): what an object cache must win on the pages the page cache cannot answer.
    'dashboard_vs_stock_aws': 2.0,
    'post_editor_vs_stock_aws': 2.0,
    'uncached_vs_stock_aws': 1.5,
    'anonymous_reads_on_replica': 95.0,  # % of anonymous SELECTs
    'boot_to_healthy_s': 90.0,
    'publish_to_visible_s': 10.0,    # an edit seen at the edge and on the instance, the slowest of the edits
    'edge_requests_at_origin': 1.0,  # % of anonymous requests through the edge that reached the load balancer
}
EDITS = 5  # edits published to measure publish-to-visible
# The logged-in user's name in the admin bar ("Howdy, NAME" and the account menu).
DISPLAY_NAME = re.compile(r'class=["\']display-name["\']>([^<]+)<')
POSTS = 4  # posts added to each site, besides "Hello world!", so that the home page lists several
EDITOR_PATH = '/wp-admin/post.php?post=1&action=edit'
PER_REQUEST_VIEWS = 20  # views of each page type whose queries and wp-content calls are counted


def log(*args):
    print('[bench %s]' % time.strftime('%H:%M:%S'), *args, file=sys.stderr, flush=True)


# ---- HTTP: one keep-alive connection per client, cookies kept by hand ----
# A site is {'ip', 'host'}, optionally 'headers' (what the load balancer in front would add; by default an ALB's
# X-Forwarded-Proto: http) and 'tls' with 'cafile' (HTTPS to ip, the certificate checked for host).

def site_headers(site):
    return site.get('headers', {'X-Forwarded-Proto': 'http'})


class TlsConnection(http.client.HTTPSConnection):
    """HTTPS to an address, with the site's name in SNI and checked in the certificate."""
    def __init__(self, site):
        super().__init__(site['ip'], 443, timeout=60, context=ssl.create_default_context(cafile=site['cafile']))
        self.server_name = site['host']

    def connect(self):
        self.sock = self._context.wrap_socket(socket.create_connection((self.host, self.port), self.timeout),
                                              server_hostname=self.server_name)


class Client:
    def __init__(self, site, cookies=''):
        self.site, self.cookies, self.conn = site, cookies, None

    def request(self, method, path, headers=None, body=None):
        headers = dict({'Host': self.site['host']}, **site_headers(self.site), **(headers or {}))
        if self.cookies:
            headers['Cookie'] = self.cookies
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = (TlsConnection(self.site) if self.site.get('tls')
                                 else http.client.HTTPConnection(self.site['ip'], 80, timeout=60))
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.msg, response.read().decode('utf-8', 'replace')
            except (http.client.HTTPException, OSError):
                self.conn = None
                if attempt == 2:
                    raise

    def get(self, path, **headers):
        return self.request('GET', path, headers)

    def post_form(self, path, fields, **headers):
        return self.request('POST', path, dict(headers, **{'Content-Type': 'application/x-www-form-urlencoded'}),
                            urllib.parse.urlencode(fields))


def set_cookies(msg):
    """name=value of each cookie a response sets, leaving out those it deletes."""
    pairs = []
    for header in msg.get_all('Set-Cookie') or []:
        pair = header.split(';', 1)[0].strip()
        if not pair.endswith('=deleted') and not pair.endswith('='):
            pairs.append(pair)
    return pairs


def login(site, user, password):
    client = Client(site, 'wordpress_test_cookie=WP%20Cookie%20check')
    status, msg, _ = client.post_form('/wp-login.php', {'log': user, 'pwd': password, 'wp-submit': 'Log In', 'testcookie': '1'})
    cookies = [c for c in set_cookies(msg) if c.startswith('wordpress_')]
    if status != 302 or not any(c.startswith('wordpress_logged_in_') for c in cookies):
        raise RuntimeError(f'login of {user} on {site["host"]} failed: HTTP {status}')
    return '; '.join(cookies)


def rest(site, cookies, method, route, data, pretty=False):
    """A REST call as the logged-in user; pretty: at /wp-json/ROUTE (the path CloudFront routes to the origin)
    rather than /?rest_route=ROUTE."""
    client = Client(site, cookies)
    _, _, nonce = client.get('/wp-admin/admin-ajax.php?action=rest-nonce')
    status, _, body = client.request(method, ('/wp-json' + route) if pretty else '/?rest_route=' + urllib.parse.quote(route),
                                     {'X-WP-Nonce': nonce.strip(), 'Content-Type': 'application/json'}, json.dumps(data))
    if status >= 300:
        raise RuntimeError(f'{method} {route} on {site["host"]}: HTTP {status}: {body[:300]}')
    return json.loads(body)


# ---- wrk ----

def to_ms(value):
    number, unit = re.match(r'([\d.]+)(us|ms|s|m)', value).groups()
    return float(number) * {'us': 0.001, 'ms': 1, 's': 1000, 'm': 60000}[unit]


def wrk(site, path, connections, seconds, headers=(), script=None):
    command = ['wrk', '-t', str(min(connections, 2)), '-c', str(connections), '-d', f'{seconds}s', '--latency',
               '--timeout', '30s', '-H', f'Host: {site["host"]}']
    for header in [f'{k}: {v}' for k, v in site_headers(site).items()] + list(headers):
        command += ['-H', header]
    if script:
        command += ['-s', script]
    url = f'{"https" if site.get("tls") else "http"}://{site["ip"]}{path}'
    out = subprocess.run(command + [url], check=True, capture_output=True, text=True).stdout
    percentiles = {p: to_ms(v) for p, v in re.findall(r'^\s+(50|99)(?:\.000)?%\s+(\S+)', out, re.M)}
    socket_errors = re.search(r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)', out)
    non_2xx = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
    return {
        'requests': int(re.search(r'(\d+) requests in', out).group(1)),
        'rps': round(float(re.search(r'Requests/sec:\s+([\d.]+)', out).group(1)), 1),
        'p50_ms': round(percentiles['50'], 2),
        'p99_ms': round(percentiles['99'], 2),
        'errors': (sum(map(int, socket_errors.groups())) if socket_errors else 0) + (int(non_2xx.group(1)) if non_2xx else 0),
    }


# ---- the sites ----

def install_stock(stock):
    status, _, body = Client(stock).post_form('/wp-admin/install.php?step=2', {
        'weblog_title': 'WordPress', 'user_name': stock['admin'], 'admin_password': stock['password'],
        'admin_password2': stock['password'], 'pw_weak': '1', 'admin_email': 'admin@example.com', 'blog_public': '1'})
    if status != 200 or 'Success' not in body:
        raise RuntimeError(f'stock install failed: HTTP {status}: {body[:300]}')


def paragraphs(n):
    words = ('the site serves pages to visitors from many places while editors write posts and readers '
             'leave comments about what they read on the site every day of the week').split()
    rng = random.Random(n)
    return ''.join('<!-- wp:paragraph --><p>%s.</p><!-- /wp:paragraph -->' % ' '.join(rng.choice(words) for _ in range(80))
                   for _ in range(5))


def marker_content(version):
    """The marker post's content: the staleness check reads the version back from each page it gets."""
    return f'<!-- wp:paragraph --><p>bench-version-{version}</p><!-- /wp:paragraph -->'


def add_content(site, cookies, pretty=False):
    """The same posts on every site: POSTS articles."""
    for i in range(POSTS):
        rest(site, cookies, 'POST', '/wp/v2/posts', {'title': f'Article {i + 1}', 'content': paragraphs(i), 'status': 'publish'},
             pretty)


def pages(site):
    """The two pages measured: the home page and a single post, at each site's own URL for it."""
    status, msg, _ = Client(site).get('/?p=1')
    if status == 301:  # pretty permalinks: the post's canonical URL
        return {'home': '/', 'post': urllib.parse.urlparse(msg['Location']).path}
    return {'home': '/', 'post': '/?p=1'}


def fetch_ok(site, path, cookies='', marker=None):
    status, msg, body = Client(site, cookies).get(path)
    if status != 200 or (marker and marker not in body):
        raise RuntimeError(f'{site["host"]}{path}: HTTP {status}, marker {marker!r} {"missing" if marker else ""}')
    return msg, body


# ---- measurements ----

def anonymous_throughput(config, ours_pages, stock_pages):
    ours, stock = config['ours'], config['stock']
    ceiling_pages = {}
    for name, path in ours_pages.items():
        _, body = fetch_ok(ours, path)
        with open(os.path.join(ours['root'], f'usr/share/wordpress/bench-ceiling-{name}.html'), 'w') as f:
            f.write(body)
        ceiling_pages[name] = f'/bench-ceiling-{name}.html'
    rows = []
    for page in ('home', 'post'):
        for target, site, path in (('ours', ours, ours_pages[page]), ('stock', stock, stock_pages[page]),
                                   ('ceiling', ours, ceiling_pages[page])):
            _, body = fetch_ok(site, path)
            wrk(site, path, 8, 2)  # warm-up: OPcache, the page cache, the database's buffer pool
            for c in CONCURRENCY:
                result = wrk(site, path, c, config['seconds'])
                rows.append(dict(target=target, page=page, path=path, concurrency=c, bytes=len(body.encode()), **result))
                log(f'anonymous {page} {target} c={c}: {result}')
    return rows


def efs_run(config, target, run):
    """RUN (a wrk run), and for ours on the EFS stand-in the wp-content calls and the round trips to EFS it cost per
    request, over the whole run (so with the attribute caches running out now and then, as they do)."""
    before = efs_counters(config) if target == 'ours' else None
    result = run()
    if before is not None:
        after, requests = efs_counters(config), max(result['requests'], 1)
        result['efs_per_request'] = {
            'calls': round(sum(after[op]['calls'] - before[op]['calls'] for op in after if op != 'forget') / requests, 2),
            'round_trips': round(sum(after[op]['round_trips'] - before[op]['round_trips'] for op in after) / requests, 3),
            # calls and round trips per operation over the run, to tell where they came from
            'by_operation': {op: [after[op]['calls'] - before[op]['calls'], after[op]['round_trips'] - before[op]['round_trips']]
                             for op in after if after[op]['calls'] != before[op]['calls']},
        }
    return result


def unique_paths(work, base):
    """A wrk script whose every request asks for BASE with a query string no request of this run or any other has
    had, in every wrk thread: a page no cache can answer."""
    token = f'{random.getrandbits(40):x}'
    script = os.path.join(work, f'unique-{token}.lua')
    separator = '&' if '?' in base else '?'
    with open(script, 'w') as f:
        f.write('local threads = 0\n'
                'function setup(thread) threads = threads + 1; thread:set("tid", threads) end\n'
                'counter = 0\n'
                'request = function()\n  counter = counter + 1\n'
                f'  return wrk.format(nil, "{base}{separator}bench_unique={token}-" .. tid .. "-" .. counter)\nend\n')
    return script


def uncached_throughput(config, ours_pages, stock_pages, work):
    """Anonymous views of the home page that the page cache cannot answer (each with a query string of its own): every
    one runs WordPress, on ours as on stock. Ours and stock back to back at each concurrency."""
    rows = []
    for target, pages_ in (('ours', ours_pages), ('stock', stock_pages)):
        site = config[target]
        msg, _ = fetch_ok(site, f'{pages_["home"]}?bench_unique=check-{random.getrandbits(32):x}')
        if target == 'ours' and msg.get('X-Cache') not in ('MISS', 'BYPASS', 'EXPIRED'):
            raise RuntimeError(f'a page with a query string of its own came from the page cache: X-Cache {msg.get("X-Cache")}')
        wrk(site, '/', 8, 2, script=unique_paths(work, pages_['home']))  # warm-up
    for c in UNCACHED_CONCURRENCY:
        for target, pages_ in (('ours', ours_pages), ('stock', stock_pages)):
            result = efs_run(config, target, lambda: wrk(config[target], '/', c, config['seconds'],
                                                        script=unique_paths(work, pages_['home'])))
            rows.append(dict(target=target, page='anonymous, uncached', path=pages_['home'] + '?bench_unique=…',
                             concurrency=c, **result))
            log(f'anonymous uncached {target} c={c}: {result}')
    return rows


def logged_in_throughput(config, cookies):
    """An administrator on the dashboard and the post editor; ours and stock back to back, so that both
    runs of a pair see the same machine."""
    rows = []
    for page, path, marker in (('dashboard', '/wp-admin/', '<title>Dashboard'),
                               ('post editor', EDITOR_PATH, 'block-editor')):
        for target in ('ours', 'stock'):
            site = config[target]
            msg, _ = fetch_ok(site, path, cookies[target], marker)
            if target == 'ours' and msg.get('X-Cache') != 'BYPASS':
                raise RuntimeError(f'a logged-in page did not bypass the page cache: X-Cache {msg.get("X-Cache")}')
            wrk(site, path, 8, 2, [f'Cookie: {cookies[target]}'])  # warm-up
        for c in UNCACHED_CONCURRENCY:
            for target in ('ours', 'stock'):
                result = efs_run(config, target, lambda: wrk(config[target], path, c, config['seconds'],
                                                            [f'Cookie: {cookies[target]}']))
                rows.append(dict(target=target, page=page, path=path, concurrency=c, **result))
                log(f'logged-in {page} {target} c={c}: {result}')
    return rows


def sql(config, node, statement):
    """A statement as root on a database node (its unix socket), its output (-N -B)."""
    return subprocess.run(['mariadb', '--no-defaults', '-S', config['db'][node], '-uroot', '-N', '-B', '-e', statement],
                          check=True, capture_output=True, text=True).stdout


def selects(config):
    return {node: int(sql(config, node, "SHOW GLOBAL STATUS LIKE 'Com_select'").split()[1]) for node in ('writer', 'reader')}


STATEMENT_KINDS = ('connections', 'selects', 'updates', 'others')


def client_statistics(config, ip):
    """What one client address has asked of each database node so far: connections, and statements by kind
    (MariaDB's user statistics, kept per client address, so only that instance's traffic counts)."""
    counts = {}
    for node in ('writer', 'reader'):
        out = sql(config, node, 'SELECT TOTAL_CONNECTIONS, SELECT_COMMANDS, UPDATE_COMMANDS, OTHER_COMMANDS '
                                f"FROM information_schema.CLIENT_STATISTICS WHERE CLIENT = '{ip}'").split()
        counts[node] = dict(zip(STATEMENT_KINDS, map(int, out))) if out else dict.fromkeys(STATEMENT_KINDS, 0)
    return counts


def efs_counters(config):
    """The EFS stand-in's counters so far (lab/efsfs.c: calls, round trips charged, time waited, per operation), or
    None where wp-content is not on it (the local setting, and stock, whose wp-content is on its own disk)."""
    path = config.get('efs_stats')
    if not path:
        return None
    with open(path, 'rb') as f:
        data = f.read()
    if data[:7] != b'LABEFS1':
        raise RuntimeError(f'{path} is not an efsfs stats file')
    counters = {}
    for i in range(struct.unpack_from('<Q', data, 8)[0]):
        name, calls, waits, wait_ns = struct.unpack_from('<16s3Q', data, 32 + 40 * i)
        counters[name.rstrip(b'\0').decode()] = {'calls': calls, 'round_trips': waits, 'wait_ns': wait_ns}
    return counters


def per_request(config, cookies, ours_pages, stock_pages, views=PER_REQUEST_VIEWS):
    """For each page type, on ours and on stock: the database statements and connections one view costs (on the
    writer and the reader), and on ours the wp-content calls that reached the EFS stand-in (the kernel's caches, as
    the NFS client's, answer the rest), the round trips to EFS among them and the time they waited. Each page is
    viewed 3 times first (OPcache, the page cache, the attribute caches), then VIEWS times, one at a time."""
    rows = []
    for target, pages_ in (('ours', ours_pages), ('stock', stock_pages)):
        site = config[target]
        token = f'{random.getrandbits(40):x}'
        for page, path, logged_in, unique in (('home', pages_['home'], False, False), ('post', pages_['post'], False, False),
                                              ('anonymous, uncached', pages_['home'], False, True),
                                              ('dashboard', '/wp-admin/', True, False),
                                              ('post editor', EDITOR_PATH, True, False)):
            client = Client(site, cookies[target] if logged_in else '')

            def url(i):
                return f'{path}{"&" if "?" in path else "?"}bench_count={token}-{i}' if unique else path
            for i in range(3):
                client.get(url(f'w{i}'))
            time.sleep(0.5)  # what the warm-up's last request does after its response (PHP's shutdown) is not counted
            db_before, fs_before = client_statistics(config, site['ip']), efs_counters(config)
            for i in range(views):
                status, _, _ = client.get(url(i))
                if status != 200:
                    raise RuntimeError(f'{target} {page}: HTTP {status}')
            time.sleep(0.5)
            db_after, fs_after = client_statistics(config, site['ip']), efs_counters(config)
            db = {node: {k: round((db_after[node][k] - db_before[node][k]) / views, 1) for k in STATEMENT_KINDS}
                  for node in ('writer', 'reader')}
            row = {'target': target, 'page': page, 'views': views, 'db': db,
                   'queries': round(sum(db[node][k] for node in db for k in STATEMENT_KINDS if k != 'connections'), 1),
                   'connections': round(db['writer']['connections'] + db['reader']['connections'], 1)}
            if fs_before is not None and target == 'ours':
                ops = {op: (fs_after[op]['calls'] - fs_before[op]['calls']) / views for op in fs_after}
                row['fs'] = {
                    'calls': round(sum(v for op, v in ops.items() if op != 'forget'), 1),
                    'round_trips': round(sum(fs_after[op]['round_trips'] - fs_before[op]['round_trips'] for op in fs_after) / views, 1),
                    'wait_ms': round(sum(fs_after[op]['wait_ns'] - fs_before[op]['wait_ns'] for op in fs_after) / views / 1e6, 2),
                    'by_operation': {op: round(v, 1) for op, v in sorted(ops.items(), key=lambda kv: -kv[1]) if v},
                }
            rows.append(row)
            log(f'per request {target} {page}: {row}')
    return rows


def share_on_reader(before, after):
    writer, reader = after['writer'] - before['writer'], after['reader'] - before['reader']
    return {'writer_selects': writer, 'reader_selects': reader,
            'reader_percent': round(100.0 * reader / (writer + reader), 1) if writer + reader else None}


def anonymous_offload(config, paths, views=100):
    """Anonymous views the page cache cannot answer (each has its own query string): every one runs WordPress."""
    ours = config['ours']
    before = selects(config)
    client = Client(ours)
    for i in range(views):
        status, _, _ = client.get(f'{paths[i % len(paths)]}{"&" if "?" in paths[i % len(paths)] else "?"}bench_view={i}')
        assert status == 200, status
    result = share_on_reader(before, selects(config))
    result['views'] = views
    log(f'anonymous offload: {result}')
    return result


def mixed_workload(config, ours_pages, users, marker_id, marker_path, hello_id):
    """90% anonymous views, 10% logged-in users, comments posted, a post edited every few seconds.

    Every response is read: an anonymous one must hold nothing personal (admin bar, a name in it, a comment
    awaiting moderation); a logged-in one must be its own user's; the marker post must never be older
    than the page cache's lifetime allows.
    """
    ours, ttl = config['ours'], config['ours']['page_cache_seconds']
    duration = max(90, ttl + 30)
    anonymous_paths = [ours_pages['home'], ours_pages['post'], marker_path]
    stop = time.time() + duration
    lock = threading.Lock()
    stats = {'anonymous': 0, 'logged_in': 0, 'comments': 0, 'errors': 0, 'privacy_violations': [],
             'cache': {}, 'latencies': [], 'max_staleness_s': 0.0, 'marker_reads': 0, 'edits': 0}
    edit_started = {}  # version -> time its edit began: the previous version is stale from then on

    def violation(what):
        with lock:
            if len(stats['privacy_violations']) < 20:
                stats['privacy_violations'].append(what)

    def visitor(seed):
        rng = random.Random(seed)
        anonymous = Client(ours)
        logged_in = {u['name']: Client(ours, u['cookies']) for u in users}
        while time.time() < stop:
            started = time.time()
            try:
                if rng.random() < 0.9:
                    path = rng.choice(anonymous_paths)
                    status, msg, body = anonymous.get(path)
                    with lock:
                        stats['anonymous'] += 1
                        cache = msg.get('X-Cache', '-')
                        stats['cache'][cache] = stats['cache'].get(cache, 0) + 1
                    if re.search(r'wp-admin-bar|display-name|awaiting moderation|Bench Visitor', body):
                        violation(f'anonymous {path} got a personal page (X-Cache {msg.get("X-Cache")})')
                    if path == marker_path:
                        seen = int(re.search(r'bench-version-(\d+)', body).group(1))
                        superseded = edit_started.get(seen + 1)
                        with lock:
                            stats['marker_reads'] += 1
                            if superseded is not None and superseded < started:
                                stats['max_staleness_s'] = max(stats['max_staleness_s'], started - superseded)
                else:
                    user = rng.choice(users)
                    path = rng.choice([ours_pages['home'], '/wp-admin/'])
                    status, msg, body = logged_in[user['name']].get(path)
                    with lock:
                        stats['logged_in'] += 1
                    names = set(re.findall(DISPLAY_NAME, body))
                    if names != {user['display']}:
                        violation(f'{user["name"]} on {path} saw admin-bar names {names} (X-Cache {msg.get("X-Cache")})')
                if status >= 400:
                    with lock:
                        stats['errors'] += 1
            except Exception as e:  # noqa: BLE001 - any failure counts as an error of the site
                with lock:
                    stats['errors'] += 1
                log(f'mixed: {e!r}')
            with lock:
                stats['latencies'].append(time.time() - started)

    def editor():
        admin = users[0]
        version = 0
        while time.time() < stop - 5:
            time.sleep(5)
            version += 1
            edit_started[version] = time.time()
            rest(ours, admin['cookies'], 'POST', f'/wp/v2/posts/{marker_id}', {'content': marker_content(version)})
            with lock:
                stats['edits'] += 1

    def commenter():
        n = 0
        # WordPress refuses a second comment from one address within 15 s (flood control).
        while time.time() < stop - 16:
            n += 1
            visitor_client = Client(ours)
            status, msg, _ = visitor_client.post_form('/wp-comments-post.php', {
                'comment_post_ID': hello_id, 'author': f'Bench Visitor {n}', 'email': f'visitor{n}@example.com',
                'comment': f'Comment {n} at {time.time()}', 'wp-comment-cookies-consent': 'yes', 'submit': 'Post Comment'})
            if status != 302:
                with lock:
                    stats['errors'] += 1
                log(f'comment {n}: HTTP {status}')
            else:
                visitor_client.cookies = '; '.join(set_cookies(msg))
                _, _, body = visitor_client.get(ours_pages['post'])
                if f'Bench Visitor {n}' not in body:
                    violation(f'commenter {n} does not see their own comment awaiting moderation')
                with lock:
                    stats['comments'] += 1
            time.sleep(16)

    before = selects(config)
    threads = [threading.Thread(target=visitor, args=(i,)) for i in range(8)]
    threads += [threading.Thread(target=editor), threading.Thread(target=commenter)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies = sorted(stats.pop('latencies'))
    stats.update(share_on_reader(before, selects(config)))
    stats['seconds'] = duration
    stats['requests_per_s'] = round((stats['anonymous'] + stats['logged_in']) / duration, 1)
    stats['p50_ms'] = round(1000 * latencies[len(latencies) // 2], 1)
    stats['p99_ms'] = round(1000 * latencies[int(len(latencies) * 0.99)], 1)
    stats['max_staleness_s'] = round(stats['max_staleness_s'], 1)
    stats['page_cache_seconds'] = ttl
    log(f'mixed: { {k: v for k, v in stats.items() if k != "privacy_violations"} }, violations {stats["privacy_violations"]}')
    return stats


def container_memory(leader):
    """PSS of every process in the instance (its PID namespace), in MiB, and how many are PHP-FPM workers."""
    namespace = os.readlink(f'/proc/{leader}/ns/pid')
    total, workers = 0, 0
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            if os.readlink(f'/proc/{pid}/ns/pid') != namespace:
                continue
            with open(f'/proc/{pid}/smaps_rollup') as f:
                total += int(re.search(r'^Pss:\s+(\d+) kB', f.read(), re.M).group(1))
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                workers += f.read().startswith(b'php-fpm: pool')
        except (OSError, AttributeError):
            continue
    return total / 1024, workers


def oom_kills():
    with open('/proc/vmstat') as f:
        return int(re.search(r'^oom_kill (\d+)', f.read(), re.M).group(1))


def overload(config, work):
    """4x the PHP-FPM pool's workers, each request a page the cache cannot answer."""
    ours = config['ours']
    with open(os.path.join(ours['root'], 'etc/php/8.4/fpm/pool.d/www.conf')) as f:
        pool = int(re.search(r'^pm\.max_children = (\d+)', f.read(), re.M).group(1))
    script = unique_paths(work, '/')
    peak = {'pss_mib': 0.0, 'workers': 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            mib, workers = container_memory(ours['leader'])
            peak['pss_mib'], peak['workers'] = max(peak['pss_mib'], mib), max(peak['workers'], workers)
            time.sleep(0.5)

    # What the boot's pool sizing assumes the instance needs at most: its reserve plus every worker at its size.
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'assets', 'boot', 'boot.sh')) as f:
        reserve, per_worker = map(int, re.search(r'workers=\$\(\( \(memory_mib - (\d+)\) / (\d+) \)\)', f.read()).groups())
    kills = oom_kills()
    sampler = threading.Thread(target=sample)
    sampler.start()
    result = wrk(ours, '/', 4 * pool, 3 * config['seconds'], script=script)
    done.set()
    sampler.join()
    result.update(pool_workers=pool, connections=4 * pool, seconds=3 * config['seconds'], oom_kills=oom_kills() - kills,
                  peak_memory_mib=round(peak['pss_mib']), peak_workers=peak['workers'],
                  sizing_assumes_mib=reserve + pool * per_worker, sizing_per_worker_mib=per_worker,
                  instance_type=config['instance_type']['name'], instance_memory_mib=config['instance_type']['memory_mib'])
    log(f'overload: {result}')
    return result


def boot(config):
    ours = config['ours']
    with open(ours['boot_log']) as f:
        text = f.read()
    script_started = float(re.search(r'boot script started at ([\d.]+)', text).group(1))
    steps = {m.group(2): int(m.group(1)) for m in re.finditer(r'^scalable-wordpress: \[(\d+) s\] (.*)$', text, re.M)}

    def at(prefix):
        return next(v for k, v in steps.items() if k.startswith(prefix))

    serving = at('WordPress serves')
    return {
        'to_healthy_s': round(ours['boot_healthy'] - ours['boot_started'], 1),
        'to_serving_s': round(script_started - ours['boot_started'] + serving, 1),
        'phases_s': {
            'system boot (systemd, cloud-init) until the boot script runs': round(script_started - ours['boot_started'], 1),
            'packages (apt-get update and install)': at('trusting the database CA') - at('installing packages'),
            'configuration (database CA, EFS, secrets, wp-config, PHP-FPM, nginx)': at('installing WordPress') - at('trusting the database CA'),
            'WordPress install (once per site; a no-op check on later boots)': at('scheduling wp-cron') - at('installing WordPress'),
            'wp-cron timer and the check that WordPress serves': serving - at('scheduling wp-cron'),
        },
    }


def commit_measured():
    """The commit whose product and lab this run measured, and whether they had local changes."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=root, capture_output=True, text=True).stdout.strip()
    changed = subprocess.run(['git', 'status', '--porcelain', '--', 'src', 'assets', 'lab', 'benchmarks'],
                             cwd=root, capture_output=True, text=True).stdout.strip()
    return commit + (' with local changes' if changed else '')


def measure(config_file, out_file):
    config = json.load(open(config_file))
    ours, stock = config['ours'], config['stock']
    work = os.path.dirname(os.path.abspath(out_file))
    results = {'boot': boot(config), 'commit': commit_measured(), 'setting': config['setting'],
               'latency': config.get('latency')}
    for node in ('writer', 'reader'):  # statements counted per client address, for queries per request
        sql(config, node, 'SET GLOBAL userstat = 1')
    install_stock(stock)
    cookies = {'ours': login(ours, ours['admin'], ours['password']), 'stock': login(stock, stock['admin'], stock['password'])}
    for target in ('ours', 'stock'):
        add_content(config[target], cookies[target])
    marker = rest(ours, cookies['ours'], 'POST', '/wp/v2/posts', {'title': 'Marker', 'status': 'publish', 'content': marker_content(0)})
    users = [{'name': ours['admin'], 'cookies': cookies['ours']}]
    for i in (1, 2):
        password = f'bench-editor-{random.getrandbits(64):x}'
        rest(ours, cookies['ours'], 'POST', '/wp/v2/users', {
            'username': f'editor{i}', 'name': f'Editor Number {i}', 'email': f'editor{i}@example.com',
            'password': password, 'roles': ['editor']})
        users.append({'name': f'editor{i}', 'cookies': login(ours, f'editor{i}', password)})
    for user in users:
        _, body = fetch_ok(ours, '/', user['cookies'])
        user['display'] = re.search(DISPLAY_NAME, body).group(1)
    ours_pages, stock_pages = pages(ours), pages(stock)
    log(f'pages: ours {ours_pages}, stock {stock_pages}')

    results['anonymous'] = anonymous_throughput(config, ours_pages, stock_pages)
    results['anonymous_uncached'] = uncached_throughput(config, ours_pages, stock_pages, work)
    results['logged_in'] = logged_in_throughput(config, cookies)
    results['per_request'] = per_request(config, cookies, ours_pages, stock_pages)
    link = urllib.parse.urlparse(marker['link'])
    marker_path = (link.path or '/') + (f'?{link.query}' if link.query else '')
    results['offload_anonymous'] = anonymous_offload(config, [ours_pages['home'], ours_pages['post'], marker_path])
    results['mixed'] = mixed_workload(config, ours_pages, users, marker['id'], marker_path, 1)
    results['overload'] = overload(config, work)
    results['page_cache_seconds'] = ours['page_cache_seconds']
    results['seconds_per_run'] = config['seconds']
    with open(out_file, 'w') as f:
        json.dump(results, f, indent=2)


# ---- behind the edge ----

def load_balancer_requests(socket_path):
    """Requests the load balancer stand-in (haproxy) has taken from the edge so far: its frontend's req_tot."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(socket_path)
        s.sendall(b'show stat\n')
        out = b''
        while chunk := s.recv(65536):
            out += chunk
    lines = out.decode().splitlines()
    header = lines[0].lstrip('# ').split(',')
    frontend = next(dict(zip(header, line.split(','))) for line in lines[1:] if line.split(',')[1:2] == ['FRONTEND'])
    return int(frontend['req_tot'])


def invalidations(config):
    """The CreateInvalidation calls the AWS stand-in has received for the distribution so far."""
    try:
        with open(config['invalidations']) as f:
            rows = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []
    return [r for r in rows if r['distribution'] == config['distribution']]


def edge_throughput(config, paths):
    """Anonymous pages through the edge (HTTPS to the CloudFront stand-in) and straight from the instance (its page
    cache, as the load balancer would reach it), and how many of the edge's requests reached the load balancer."""
    edge, origin = config['edge'], config['origin']
    rows = []
    for page, path in paths.items():
        for target, site in (('edge', edge), ('origin', origin)):
            fetch_ok(site, path)
            wrk(site, path, 8, 2)  # warm-up: the edge's cache, the page cache, OPcache
            for c in CONCURRENCY:
                before = load_balancer_requests(config['load_balancer_socket'])
                result = wrk(site, path, c, config['seconds'])
                result['load_balancer_requests'] = load_balancer_requests(config['load_balancer_socket']) - before
                rows.append(dict(target=target, page=page, path=path, concurrency=c, **result))
                log(f'edge: anonymous {page} {target} c={c}: {result}')
    return rows


def publish_to_visible(config, cookies, post_id, path):
    """EDITS edits of a post, each published through the edge (REST, as the block editor saves) while the post is
    cached at the edge and in the page cache; each time, how long until an anonymous visitor sees it through the
    edge and straight from the instance. The clock starts when the editor sends the update."""
    edge, origin = config['edge'], config['origin']
    before = len(invalidations(config))
    edits = []
    for i in range(EDITS):
        for _ in range(2):
            msg, _ = fetch_ok(edge, path)
            fetch_ok(origin, path)
        if msg.get('X-Cache') != 'Hit from cloudfront':
            raise RuntimeError(f'{path} is not cached at the edge before edit {i}: X-Cache {msg.get("X-Cache")}')
        title = f'Edge edit {i} {random.getrandbits(32):x}'
        started = time.time()
        rest(edge, cookies, 'POST', f'/wp/v2/posts/{post_id}', {'title': title}, pretty=True)
        saved = time.time() - started
        seen = {}
        while len(seen) < 2 and time.time() - started < 60:
            for name, site in (('edge', edge), ('instance', origin)):
                if name not in seen and title in Client(site).get(path)[2]:
                    seen[name] = round(time.time() - started, 2)
            time.sleep(0.05)
        edit = {'saved_s': round(saved, 2), 'edge_s': seen.get('edge'), 'instance_s': seen.get('instance')}
        edit['everyone_s'] = max(edit['edge_s'], edit['instance_s']) if len(seen) == 2 else None
        edits.append(edit)
        log(f'edge: edit {i}: {edit}')
    calls = invalidations(config)[before:]
    everyone = [e['everyone_s'] for e in edits]
    return {
        'edits': edits,
        'median_s': statistics.median(everyone) if None not in everyone else None,
        'max_s': max(everyone) if None not in everyone else None,
        'invalidation_calls': len(calls),
        'invalidation_paths': sum(len(c['paths']) for c in calls),
        'paths_of_one_call': calls[-1]['paths'] if calls else [],
    }


def measure_edge(config_file, out_file):
    config = json.load(open(config_file))
    edge = config['edge']
    cookies = login(edge, config['admin'], config['password'])
    add_content(edge, cookies, pretty=True)
    paths = pages(edge)
    log(f'edge: pages {paths}')
    results = {
        'anonymous': edge_throughput(config, paths),
        'publish': publish_to_visible(config, cookies, 1, paths['post']),
        'page_cache_seconds': config['page_cache_seconds'],
        'setting': config.get('setting', 'local'),
    }
    with open(out_file, 'w') as f:
        json.dump(results, f, indent=2)


# ---- the report ----

def ratio(a, b):
    return round(a / b, 2) if b else None


def runs_by_key(rows):
    """wrk runs by (target, page, concurrency)."""
    return {(r['target'], r['page'], r['concurrency']): r for r in rows}


def edge_summary(edge):
    """The edge's runs with their ratio to the instance's, and the share of the edge's requests that reached the
    load balancer."""
    run = runs_by_key(edge['anonymous'])
    ratios = [{'page': p, 'concurrency': c, 'ours_vs_origin': ratio(run[('edge', p, c)]['rps'], run[('origin', p, c)]['rps'])}
              for (t, p, c) in run if t == 'edge']
    through_edge = [r for r in edge['anonymous'] if r['target'] == 'edge']
    requests = sum(r['requests'] for r in through_edge)
    at_origin = sum(r['load_balancer_requests'] for r in through_edge)
    return ratios, {'requests': requests, 'at_load_balancer': at_origin,
                    'percent': round(100.0 * at_origin / requests, 3) if requests else None}


def web_summary(web):
    """One latency setting's web figures, with their ratios."""
    rps = runs_by_key(web['anonymous'])
    ratios = []
    for page in ('home', 'post'):
        for c in CONCURRENCY:
            ours = rps[('ours', page, c)]['rps']
            ratios.append({'page': page, 'concurrency': c, 'ours_vs_stock': ratio(ours, rps[('stock', page, c)]['rps']),
                           'ours_vs_ceiling': ratio(ours, rps[('ceiling', page, c)]['rps'])})

    def versus_stock(rows):
        run = runs_by_key(rows)
        return [{'page': p, 'concurrency': c, 'ours_vs_stock': ratio(run[('ours', p, c)]['rps'], run[('stock', p, c)]['rps'])}
                for (t, p, c) in run if t == 'ours']
    return dict(web, anonymous_ratios=ratios, logged_in_ratios=versus_stock(web['logged_in']),
                anonymous_uncached_ratios=versus_stock(web['anonymous_uncached']))


def lowest(ratios, key='ours_vs_stock', page=None):
    values = [r[key] for r in ratios if page is None or r['page'] == page]
    return min(values) if values and None not in values else None


def per_request_of(w, target, page):
    return next(r for r in w['per_request'] if r['target'] == target and r['page'] == page)


def target_checks(webs, edge):
    """The targets: (what, target, {setting: value}, settings it is judged at, test). The web's are judged at every
    setting measured unless they name one; the edge's at the setting it ran at."""
    def each(f):
        return {s: f(w) for s, w in webs.items()}
    at_aws = [s for s in webs if s == 'aws']
    every = list(webs)
    over = {s: w['overload'] for s, w in webs.items()}
    checks = [
        ('anonymous throughput, ours / stock (lowest page and concurrency)', f'>= {TARGETS["anonymous_vs_stock"]}',
         each(lambda w: lowest(w['anonymous_ratios'])), every, lambda v: v >= TARGETS['anonymous_vs_stock']),
        ('anonymous throughput, ours / static ceiling (lowest)', f'>= {TARGETS["anonymous_vs_ceiling"]}',
         each(lambda w: lowest(w['anonymous_ratios'], 'ours_vs_ceiling')), every, lambda v: v >= TARGETS['anonymous_vs_ceiling']),
        ('logged-in throughput, ours / stock (lowest)', f'>= {TARGETS["logged_in_vs_stock"]}',
         each(lambda w: lowest(w['logged_in_ratios'])), every, lambda v: v >= TARGETS['logged_in_vs_stock']),
        ('logged-in dashboard, ours / stock (lowest concurrency)', f'>= {TARGETS["dashboard_vs_stock_aws"]} at AWS latency',
         each(lambda w: lowest(w['logged_in_ratios'], page='dashboard')), at_aws, lambda v: v >= TARGETS['dashboard_vs_stock_aws']),
        ('logged-in post editor, ours / stock (lowest concurrency)', f'>= {TARGETS["post_editor_vs_stock_aws"]} at AWS latency',
         each(lambda w: lowest(w['logged_in_ratios'], page='post editor')), at_aws, lambda v: v >= TARGETS['post_editor_vs_stock_aws']),
        ('anonymous pages the page cache cannot answer, ours / stock (lowest concurrency)',
         f'>= {TARGETS["uncached_vs_stock_aws"]} at AWS latency',
         each(lambda w: lowest(w['anonymous_uncached_ratios'])), at_aws, lambda v: v >= TARGETS['uncached_vs_stock_aws']),
        ('database queries per logged-in view, ours: dashboard / post editor', 'reported (before and after the object cache)',
         each(lambda w: '%s / %s' % (per_request_of(w, 'ours', 'dashboard')['queries'], per_request_of(w, 'ours', 'post editor')['queries'])),
         [], None),
        ('anonymous SELECTs answered by the replica, %', f'>= {TARGETS["anonymous_reads_on_replica"]}',
         each(lambda w: w['offload_anonymous']['reader_percent']), every, lambda v: v is not None and v >= TARGETS['anonymous_reads_on_replica']),
        ('mixed workload: personal pages seen by someone else', '0', each(lambda w: len(w['mixed']['privacy_violations'])), every, lambda v: v == 0),
        ('mixed workload: oldest page served, s past its edit (purged on publish)', f'<= {TARGETS["publish_to_visible_s"]}',
         each(lambda w: w['mixed']['max_staleness_s']), every, lambda v: v <= TARGETS['publish_to_visible_s']),
        ('mixed workload: errors', '0', each(lambda w: w['mixed']['errors']), every, lambda v: v == 0),
        ('behind the edge: publish to visible at the edge and on the instance, s (slowest of %d edits)' % len(edge['publish']['edits']),
         f'<= {TARGETS["publish_to_visible_s"]}', {edge['setting']: edge['publish']['max_s']}, [edge['setting']],
         lambda v: v is not None and v <= TARGETS['publish_to_visible_s']),
        ('behind the edge: anonymous requests that reached the load balancer, %', f'<= {TARGETS["edge_requests_at_origin"]}',
         {edge['setting']: edge['reached_load_balancer']['percent']}, [edge['setting']],
         lambda v: v is not None and v <= TARGETS['edge_requests_at_origin']),
        ('behind the edge: errors', '0', {edge['setting']: sum(r['errors'] for r in edge['anonymous'])}, [edge['setting']], lambda v: v == 0),
        ('boot to healthy, s', f'<= {TARGETS["boot_to_healthy_s"]}', each(lambda w: w['boot']['to_healthy_s']), every,
         lambda v: v <= TARGETS['boot_to_healthy_s']),
        ('the latency setting, checked from the instances (lab/latency.sh latency_check)', 'within its tolerance',
         each(lambda w: 'ok' if all(c['ok'] for c in w['latency']['checks'].values()) else 'off'), every, lambda v: v == 'ok'),
        ('packets the latency setting dropped (its queues full)', '0', each(lambda w: w['latency'].get('dropped_packets')), every,
         lambda v: v == 0),
        ('overload at 4x the pool: errors', '0', {s: o['errors'] for s, o in over.items()}, every, lambda v: v == 0),
        ('overload at 4x the pool: processes OOM-killed', '0', {s: o['oom_kills'] for s, o in over.items()}, every, lambda v: v == 0),
    ]
    sizing = next(iter(over.values()))
    checks += [
        ('overload at 4x the pool: peak memory of the instance, MiB', f'< {sizing["sizing_assumes_mib"]} (the pool sizing\'s assumption)',
         {s: o['peak_memory_mib'] for s, o in over.items()}, every, lambda v: v < sizing['sizing_assumes_mib']),
        ('the pool sizing\'s assumption, MiB', f'< {sizing["instance_memory_mib"]} ({sizing["instance_type"]})',
         {s: o['sizing_assumes_mib'] for s, o in over.items()}, every, lambda v: v < sizing['instance_memory_mib']),
    ]
    return checks


def report(out_dir, edge_file, synth_file, web_files):
    webs = {}
    for web_file in web_files:
        web = json.load(open(web_file))
        webs[web['setting']] = web_summary(web)
    webs = {s: webs[s] for s in SETTINGS if s in webs}
    edge, synth = json.load(open(edge_file)), json.load(open(synth_file))
    edge_ratios, edge_origin = edge_summary(edge)
    edge = dict(edge, ratios=edge_ratios, reached_load_balancer=edge_origin)
    targets = []
    for what, target, values, judged, ok in target_checks(webs, edge):
        row = {'what': what, 'target': target, 'values': values, 'judged_at': judged}
        row['met'] = bool(judged) and all(values.get(s) is not None and bool(ok(values[s])) for s in judged) if ok else None
        targets.append(row)
    first = next(iter(webs.values()))
    results = {
        'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
        'commit': first['commit'],
        'machine': f'{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}',
        'targets': targets,
        'settings': webs,
        'edge': edge,
        'synthesis': synth['results'], 'synthesis_skipped': synth.get('skipped', []),
        'page_cache_seconds': first['page_cache_seconds'], 'seconds_per_run': first['seconds_per_run'],
    }
    with open(os.path.join(out_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
        f.write('\n')
    with open(os.path.join(out_dir, 'RESULTS.md'), 'w') as f:
        f.write(markdown(results))
    failed = [f'{t["what"]} ({", ".join(SETTING_NAMES[s] for s in t["judged_at"])})' for t in targets if t['met'] is False]
    log('targets not met: ' + '; '.join(failed) if failed else 'every target met')


def renders(mixed):
    return sum(mixed['cache'].get(status, 0) for status in ('MISS', 'EXPIRED', 'STALE'))


def comparison(runs, ratios, targets):
    """Header and rows of a table that sets the targets side by side: req/s, the first target's ratios to the
    others (ratios' ours_vs_OTHER), p50 / p99."""
    run = runs_by_key(runs)
    others = targets[1:]
    header = (['page', 'concurrency'] + [f'{t} req/s' for t in targets] + [f'{targets[0]}/{t}' for t in others] +
              [f'{t} p50 / p99 ms' for t in targets])
    rows = [[q['page'], q['concurrency']] +
            [run[(t, q['page'], q['concurrency'])]['rps'] for t in targets] +
            [q[f'ours_vs_{t}'] for t in others] +
            ['%s / %s' % (run[(t, q['page'], q['concurrency'])]['p50_ms'], run[(t, q['page'], q['concurrency'])]['p99_ms'])
             for t in targets]
            for q in ratios]
    return header, rows


def markdown(r):
    def table(header, rows):
        return '\n'.join(['| ' + ' | '.join(header) + ' |', '|' + ' --- |' * len(header)] +
                         ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]) + '\n'

    webs = r['settings']
    settings = list(webs)

    def paired(make):
        """A table (or paragraph) per latency setting, each under its name."""
        out = []
        for s in settings:
            out += [f'**At {SETTING_NAMES[s]}.**', '', make(webs[s]).rstrip('\n'), '']
        return out

    def latency_line(s):
        lat = webs[s]['latency']
        checks = lat['checks']
        if s == 'local':
            return ('**Local latency**: the lab as it is, the database on this machine\'s bridge and wp-content a host '
                    'directory (measured from ours: %s ms added to a round trip to the writer).' % checks['ours']['added_ms']['writer'])
        return ('**AWS latency**: a round trip of %s ms to the writer, %s ms to the reader and %s ms to the object cache; '
                'wp-content on the EFS stand-in (lab/efsfs.c), %s ms per round trip to EFS for a lookup, attribute fetch, '
                'open, close or read, %s ms for a change, with the NFS client\'s caching (lab/README.md gives the sources). '
                'Measured from ours\' network namespace: %s ms added to a round trip to the writer, %s ms to the reader; '
                'from stock\'s: %s ms and %s ms.' % (
                    lat['rtt_writer_ms'], lat['rtt_reader_ms'], lat['rtt_cache_ms'], lat['efs_read_ms'], lat['efs_write_ms'],
                    checks['ours']['added_ms']['writer'], checks['ours']['added_ms']['reader'],
                    checks['stock']['added_ms']['writer'], checks['stock']['added_ms']['reader']))

    def target_value(t, s):
        v = t['values'].get(s)
        return '—' if v is None else v

    def met(t):
        return 'reported' if t['met'] is None else 'yes' if t['met'] else '**no**'

    def per_request_table(w):
        rows = []
        for page in ('home', 'post', 'anonymous, uncached', 'dashboard', 'post editor'):
            ours, stock = per_request_of(w, 'ours', page), per_request_of(w, 'stock', page)
            fs = ours.get('fs')
            rows.append([page, '%s (%s + %s)' % (ours['queries'], round(ours['queries'] - _reader_queries(ours), 1), _reader_queries(ours)),
                         ours['connections'], stock['queries'], stock['connections'],
                         fs['calls'] if fs else '—', fs['round_trips'] if fs else '—', fs['wait_ms'] if fs else '—'])
        return table(['page', 'ours queries (writer + reader)', 'ours connections', 'stock queries', 'stock connections',
                      'ours wp-content calls', 'of them round trips to EFS', 'EFS wait, ms'], rows)

    def over_runs(w):
        runs = [r for r in w['anonymous_uncached'] + w['logged_in'] if r['target'] == 'ours' and 'efs_per_request' in r]
        if not runs:
            return ''
        return ('Over the throughput runs (sections 1 and 2, ours): ' + '; '.join(
            f'{r["page"]} at {r["concurrency"]}: {r["efs_per_request"]["calls"]} wp-content calls and '
            f'{r["efs_per_request"]["round_trips"]} round trips to EFS per request' for r in runs) + '.')

    def busiest(w):
        parts = []
        for page in ('dashboard', 'post editor', 'anonymous, uncached'):
            fs = per_request_of(w, 'ours', page).get('fs')
            if fs:
                parts.append(f'{page}: ' + ', '.join(f'{op} {n}' for op, n in list(fs['by_operation'].items())[:6]))
        return ('wp-content calls per view by operation (ours): ' + '; '.join(parts) + '.') if parts else ''

    def offload(w):
        o, m = w['offload_anonymous'], w['mixed']
        return '\n'.join([
            f'Anonymous views the cache cannot answer ({o["views"]} views, each with its own query string): '
            f'{o["reader_selects"]} SELECTs on the replica, {o["writer_selects"]} on the writer: **{o["reader_percent"]}%** on the replica.',
            '',
            f'Mixed workload, {m["seconds"]} s from 8 visitor threads plus an editor and a commenter: '
            f'{m["anonymous"]} anonymous and {m["logged_in"]} logged-in requests (3 users), '
            f'{m["comments"]} comments posted, {m["edits"]} edits of a marker post; '
            f'{m["requests_per_s"]} req/s, p50 {m["p50_ms"]} ms, p99 {m["p99_ms"]} ms, {m["errors"]} errors. '
            f'Anonymous responses by X-Cache: {", ".join(f"{k} {v}" for k, v in sorted(m["cache"].items()))}: '
            f'the cache rendered {renders(m)} pages (MISS, EXPIRED and STALE each start one render; UPDATING '
            'responses start none), the only PHP, and so the only SELECTs, that anonymous visitors caused. The replica\'s '
            'SELECTs below all come from those renders, since logged-in users never read from it.',
            f'All SELECTs in that window: {m["reader_selects"]} on the replica, {m["writer_selects"]} on the writer '
            f'({m["reader_percent"]}% on the replica; logged-in users, commenters and edits read from the writer on purpose).',
            f'Every response was read: {len(m["privacy_violations"])} showed someone a page personal to someone else; '
            f'of {m["marker_reads"]} anonymous reads of the marker post, the oldest was {m["max_staleness_s"]} s '
            f'past the edit that replaced it (the page cache\'s lifetime is {m["page_cache_seconds"]} s).'])

    def overload_text(w):
        o = w['overload']
        return (f'{o["connections"]} connections (4x the {o["pool_workers"]} PHP-FPM workers the boot sized) for '
                f'{o["seconds"]} s, each request a page the cache cannot answer: {o["rps"]} req/s, '
                f'p50 {o["p50_ms"]} ms, p99 {o["p99_ms"]} ms, {o["errors"]} errors, '
                f'{o["oom_kills"]} processes OOM-killed. Peak memory of the whole instance (PSS): '
                f'{o["peak_memory_mib"]} MiB with {o["peak_workers"]} workers. The pool sizing assumes at most '
                f'{o["sizing_assumes_mib"]} MiB ({o["sizing_per_worker_mib"]} MiB per worker plus a reserve), '
                f'within the {o["instance_memory_mib"]} MiB of an {o["instance_type"]}.')

    boot_parts = list(next(iter(webs.values()))['boot']['phases_s'])
    edge = r['edge']
    lines = [
        '# Benchmark results',
        '',
        f'Written by `npx projen bench` (benchmarks/run.sh) on {r["date"]}, commit {r["commit"]}, {r["machine"]}.',
        'Every figure below comes from that one run; the references ran in it too, on the same machine and image.',
        'Ours: an instance booted from the construct\'s own user data (benchmarks/app.ts: Aurora with one reader, EFS, the',
        f'object cache unless BENCH_OBJECT_CACHE=none, every other default, so a page cache of {r["page_cache_seconds"]} s). Stock: Debian\'s wordpress package with its defaults',
        '(Apache, mod_php), on the same database server. Ceiling: our nginx returning a saved copy of the same page as a',
        f'static file. wrk runs of {r["seconds_per_run"]} s each, from the host; the instances, the database and wrk share 2 CPUs.',
        '',
        'Every web figure is measured twice, each time on fresh instances and a fresh database: at the lab\'s own',
        'latency, and at latency like AWS\'s (lab/latency.sh). Stock runs under the same network latency as ours; its',
        'wp-content stays where Debian puts it, on its own disk.',
        '',
    ] + [f'* {latency_line(s)}' for s in settings] + [
        '',
        '## Targets',
        '',
        table(['what', 'target'] + [f'at {SETTING_NAMES[s]}' for s in settings] + ['met'],
              [[t['what'], t['target']] + [target_value(t, s) for s in settings] + [met(t)] for t in r['targets']]),
        'A target is met when it holds at every setting it names, or at every setting measured when it names none '
        f'(the edge ran at {SETTING_NAMES[edge["setting"]]} only).',
        '',
        '## 1. Anonymous pages',
        '',
    ] + paired(lambda w: table(*comparison(w['anonymous'], w['anonymous_ratios'], ('ours', 'stock', 'ceiling')))) + [
        'Errors in these runs: %s.' % ', '.join(f'{sum(a["errors"] for a in webs[s]["anonymous"])} at {SETTING_NAMES[s]}' for s in settings),
        '',
        '**Pages the page cache cannot answer**: the home page, each request with a query string of its own, so that',
        'WordPress renders every one, on ours as on stock.',
        '',
    ] + paired(lambda w: table(*comparison(w['anonymous_uncached'], w['anonymous_uncached_ratios'], ('ours', 'stock')))) + [
        '## 2. Logged in (an administrator; the page cache is bypassed, X-Cache: BYPASS)',
        '',
    ] + paired(lambda w: table(*comparison(w['logged_in'], w['logged_in_ratios'], ('ours', 'stock')))) + [
        '## 3. Per view: database queries and wp-content calls',
        '',
        f'Each page viewed {PER_REQUEST_VIEWS} times, one at a time, after 3 views to warm the caches. Queries: the',
        'statements each database node ran for that instance\'s address (MariaDB\'s user statistics), per view;',
        'connections: the database connections it opened per view (each a TCP and TLS handshake). wp-content calls: the',
        'calls that reached the EFS stand-in, that is those the kernel\'s caches, standing in for the NFS client\'s,',
        'did not answer; round trips: those of them that Linux\'s NFS client sends to EFS and that therefore waited',
        '(lab/README.md: which calls do). Only at AWS latency, where wp-content is on the stand-in; stock\'s is on its',
        'own disk.',
        '',
    ] + paired(lambda w: per_request_table(w) + ''.join('\n' + line + '\n' for line in (busiest(w), over_runs(w)) if line)) + [
        '## 4. Read offload (Aurora mode: a MariaDB writer and replica)',
        '',
    ] + paired(offload) + [
        '## 5. Boot to healthy',
        '',
        'From the instance\'s start to the health check passing, and to the boot script reporting that WordPress serves',
        '(the CloudFormation signal), then the parts:',
        '',
        table(['', ] + [SETTING_NAMES[s] for s in settings],
              [['**to healthy, s**'] + [f'**{webs[s]["boot"]["to_healthy_s"]}**' for s in settings],
               ['to the signal, s'] + [webs[s]['boot']['to_serving_s'] for s in settings]] +
              [[part] + [webs[s]['boot']['phases_s'][part] for s in settings] for part in boot_parts]),
        '## 6. Overload',
        '',
    ] + paired(overload_text) + [
        f'## 7. Behind the edge (BenchEdgeSite: the same site behind CloudFront; the lab\'s stand-ins for both; at {SETTING_NAMES[edge["setting"]]})',
        '',
        'One instance of the site behind the load balancer stand-in, which answers only the edge, and the CloudFront',
        'stand-in (nginx generated by lab/edge.py from the template\'s distribution: its behaviours, cache keys and TTLs).',
        'Edge: anonymous pages over HTTPS through the stand-in. Origin: the same pages straight from the instance, with',
        'the headers the load balancer passes on from CloudFront. The stand-in runs on the same 2 CPUs: it shows what the',
        'distribution\'s configuration does (hits served at the edge, the origin spared), not CloudFront\'s own speed or a',
        'visitor\'s distance to its nearest edge location. Measured once, at one setting: the edge and the page cache',
        'answer these pages without the database or wp-content.',
        '',
        table(*comparison(edge['anonymous'], edge['ratios'], ('edge', 'origin'))),
        f'Of {edge["reached_load_balancer"]["requests"]} anonymous requests through the edge, '
        f'{edge["reached_load_balancer"]["at_load_balancer"]} reached the load balancer '
        f'({edge["reached_load_balancer"]["percent"]}%). Errors: {sum(a["errors"] for a in edge["anonymous"])}.',
        '',
        f'**Publish to visible.** {len(edge["publish"]["edits"])} edits of a post, each saved through the edge (REST, as '
        'the block editor saves) while the post was cached at the edge and in the instance\'s page cache (its lifetime '
        f'{edge["page_cache_seconds"]} s); the clock starts when the editor sends the update:',
        '',
        table(['edit', 'saved, s', 'visible at the edge, s', 'visible on the instance, s', 'visible everywhere, s'],
              [[i + 1, e['saved_s'], e['edge_s'], e['instance_s'], e['everyone_s']] for i, e in enumerate(edge['publish']['edits'])]),
        f'Median {edge["publish"]["median_s"]} s, slowest {edge["publish"]["max_s"]} s. The instances sent '
        f'{edge["publish"]["invalidation_calls"]} CreateInvalidation calls with {edge["publish"]["invalidation_paths"]} '
        f'paths in all (the last: {", ".join(edge["publish"]["paths_of_one_call"])}). The stand-in applies an '
        'invalidation at once; CloudFront takes longer (see the README, "Purge on change").',
        '',
        '## 8. Synthesis of the example site',
        '',
        table(['language', 'what runs', 'median wall time', 'peak memory (process tree RSS)'],
              [[lang, f'`{s["command"]}`', f'{s["median_s"]} s ({s["runs"]} runs)', f'{s["peak_rss_mib"]} MiB'] for lang, s in r['synthesis'].items()]),
    ] + ([f'Not measured in this run: {"; ".join(r["synthesis_skipped"])}.', ''] if r['synthesis_skipped'] else [])
    notes_file = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'NOTES.md')
    if os.path.exists(notes_file):
        lines += ['## What limits the figures', '', open(notes_file).read()]
    return '\n'.join(lines) + '\n'


def _reader_queries(row):
    return round(sum(row['db']['reader'][k] for k in STATEMENT_KINDS if k != 'connections'), 1)


if __name__ == '__main__':
    if len(sys.argv) == 4 and sys.argv[1] == 'measure':
        measure(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == 'measure-edge':
        measure_edge(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 6 and sys.argv[1] == 'report':
        report(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    else:
        sys.exit(__doc__)
