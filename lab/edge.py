#!/usr/bin/env python3
"""The lab's CloudFront: generates an nginx caching reverse proxy from a synthesized template's distribution.

Nothing in the proxy is written by hand: its behaviours, cache keys, TTLs and what reaches the origin come from
the template's AWS::CloudFront::Distribution and its AWS::CloudFront::CachePolicy / OriginRequestPolicy resources
(and the managed CachingDisabled policy), so the lab tests what would be deployed. Anything the generator does
not implement (another managed policy, functions, a query-string allowlist...) fails the lab instead of being
ignored.

What it implements, as CloudFront documents it:
- behaviours in template order, first match wins, the default last; path patterns with `*` (any characters) and
  `?` (one), case-sensitive, matched against the path without its query string;
- the viewer protocol policy (301 to https, or 403 for https-only), allowed methods (403 for others), cached
  methods GET and HEAD;
- the cache key: path, the query string (all or none), the allowlisted headers and cookies, Accept-Encoding
  normalized to gzip/br when the policy enables them; nothing else reaches the cache key;
- what reaches the origin: exactly the cache key's parameters plus the origin request policy's (all viewer
  headers, or an allowlist; all cookies, none or an allowlist; the query string), X-Forwarded-For and Via,
  and CloudFront-Forwarded-Proto and CloudFront-Viewer-Address ("ip:port") set by the proxy, overwriting
  whatever a client sent; the Host header is the viewer's only when forwarded, else the origin's domain;
- TTLs: DefaultTTL when the origin says nothing; with MinTTL 0, a response whose Cache-Control says no-store,
  no-cache, private or max-age=0 is not stored; a Set-Cookie does not stop caching (as at CloudFront, which
  caches it unless told otherwise); error responses (4xx/5xx) 10 s (ErrorCachingMinTTL's default);
- X-Cache: "Hit from cloudfront" / "Miss from cloudfront".
Not implemented (and not judged by the lab): max-age/s-maxage between MinTTL and MaxTTL (taken as DefaultTTL),
compression at the edge, regional edge caches, origin failover, the WAF, HTTP/2 and HTTP/3.

Cache entries hold their key on the "KEY: " line of the nginx cache file; the key starts with the path and query
string, then " |": aws_standin.py's CreateInvalidation deletes the entries an invalidation path matches.

Usage: edge.py TEMPLATE OUT_DIR --listen IP --origin IP:PORT --origin-host NAME --cert CRT --key KEY
  writes OUT_DIR/nginx.conf (run with `nginx -c OUT_DIR/nginx.conf`), cache in OUT_DIR/cache.
"""
import argparse
import json
import os
import re
import sys

CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad'
VIEWER_HEADERS = {'cloudfront-forwarded-proto': '$scheme', 'cloudfront-viewer-address': '$remote_addr:$remote_port'}
CACHED_STATUSES = '200 203 300 301 410'
ERROR_STATUSES = '400 403 404 405 414 416 500 501 502 503 504'


class Unsupported(Exception):
    pass


def pattern_regex(pattern):
    """A CloudFront path pattern as an anchored regex: `*` any characters, `?` one, the rest literal."""
    if not pattern.startswith('/'):
        pattern = '/' + pattern
    return '^' + ''.join('.*' if c == '*' else '.' if c == '?' else re.escape(c) for c in pattern) + '$'


def variable(name):
    return '$http_' + name.lower().replace('-', '_')


class Generator:
    def __init__(self, template, args):
        self.resources = template['Resources']
        self.args = args
        self.maps = []
        self.cookie_vars = {}

    def policy(self, ref, kind):
        if ref is None:
            return None
        if isinstance(ref, str):
            if kind == 'AWS::CloudFront::CachePolicy' and ref == CACHING_DISABLED:
                return 'disabled'
            raise Unsupported(f'managed {kind} {ref}: the lab edge knows CachingDisabled only')
        if not (isinstance(ref, dict) and list(ref) == ['Ref'] and ref['Ref'] in self.resources):
            raise Unsupported(f'cannot resolve policy {json.dumps(ref)}')
        resource = self.resources[ref['Ref']]
        if resource['Type'] != kind:
            raise Unsupported(f'{ref["Ref"]} is a {resource["Type"]}, not a {kind}')
        props = resource['Properties']
        return props['CachePolicyConfig' if kind.endswith('CachePolicy') else 'OriginRequestPolicyConfig']

    def cookie(self, name):
        """A variable holding `name=value; ` when the viewer sent the cookie (nginx's $cookie_ cannot name `-`)."""
        if name not in self.cookie_vars:
            var = f'$edge_cookie_{len(self.cookie_vars)}'
            self.cookie_vars[name] = var
            self.maps.append(f'map $http_cookie {var} {{\n    "~(?:^|;\\s*){re.escape(name)}=(?<v>[^;]*)" "{name}=$v; ";\n    default "";\n}}')
        return self.cookie_vars[name]

    def behaviour(self, b):
        known = {'PathPattern', 'TargetOriginId', 'ViewerProtocolPolicy', 'AllowedMethods', 'CachedMethods',
                 'CachePolicyId', 'OriginRequestPolicyId', 'Compress'}
        unknown = set(b) - known
        if unknown:
            raise Unsupported(f'behaviour {b.get("PathPattern", "(default)")}: the lab edge does not implement {sorted(unknown)}')
        cache = self.policy(b.get('CachePolicyId'), 'AWS::CloudFront::CachePolicy')
        origin = self.policy(b.get('OriginRequestPolicyId'), 'AWS::CloudFront::OriginRequestPolicy')
        if cache is None:
            raise Unsupported('a behaviour without a cache policy (legacy ForwardedValues)')
        lines = []
        methods = b.get('AllowedMethods', ['GET', 'HEAD'])
        if set(methods) != {'GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'}:
            lines.append(f'if ($request_method !~ ^({"|".join(methods)})$) {{ return 403; }}')
        cached = b.get('CachedMethods', ['GET', 'HEAD'])
        if set(cached) - {'GET', 'HEAD'}:
            raise Unsupported(f'cached methods {cached}')

        key_params = {} if cache == 'disabled' else cache['ParametersInCacheKeyAndForwardedToOrigin']
        # Headers: (name -> forwarded), cookies, query
        key_headers = self.list_of(key_params.get('HeadersConfig', {}), 'HeaderBehavior', 'Headers', ('none', 'whitelist'))
        key_cookies = self.list_of(key_params.get('CookiesConfig', {}), 'CookieBehavior', 'Cookies', ('none', 'whitelist', 'all'))
        key_query = key_params.get('QueryStringsConfig', {}).get('QueryStringBehavior', 'none')
        o = origin or {}
        o_headers_behaviour = o.get('HeadersConfig', {}).get('HeaderBehavior', 'none')
        if o_headers_behaviour not in ('none', 'whitelist', 'allViewer', 'allViewerAndWhitelistCloudFront'):
            raise Unsupported(f'origin request header behaviour {o_headers_behaviour}')
        o_headers = o.get('HeadersConfig', {}).get('Headers', [])
        o_cookies = self.list_of(o.get('CookiesConfig', {}), 'CookieBehavior', 'Cookies', ('none', 'whitelist', 'all'))
        o_query = o.get('QueryStringsConfig', {}).get('QueryStringBehavior', 'none')
        for q in (key_query, o_query):
            if q not in ('none', 'all'):
                raise Unsupported(f'query string behaviour {q}')

        # ---- what reaches the origin ----
        all_viewer = o_headers_behaviour.startswith('allViewer')
        lines.append(f'proxy_pass_request_headers {"on" if all_viewer else "off"};')
        forwarded = {h.lower() for h in (key_headers or [])} | {h.lower() for h in o_headers}
        for h in sorted(forwarded):
            if h.startswith('cloudfront-'):
                if h not in VIEWER_HEADERS:
                    raise Unsupported(f'the lab edge does not set {h}')
                continue
            if h != 'host':
                lines.append(f'proxy_set_header {h} {variable(h)};')
        if not all_viewer:
            # Sent with a body whatever the policy; CloudFront names itself when the viewer's agent is not forwarded.
            lines.append('proxy_set_header Content-Type $content_type;')
            if 'user-agent' not in forwarded:
                lines.append('proxy_set_header User-Agent "Amazon CloudFront";')
        host = '$http_host' if all_viewer or 'host' in forwarded else self.args.origin_host
        lines.append(f'proxy_set_header Host {host};')
        # CloudFront's own headers: set when the policies forward them, never the viewer's copies
        for h, value in VIEWER_HEADERS.items():
            lines.append(f'proxy_set_header {h} "{value if h in forwarded else ""}";')
        if key_cookies == 'all' or o_cookies == 'all':
            lines.append('proxy_set_header Cookie $http_cookie;')
        else:
            names = sorted(set(key_cookies or []) | set(o_cookies or []))
            lines.append(f'proxy_set_header Cookie "{"".join(self.cookie(n) for n in names)}";')
        accept = key_params.get('EnableAcceptEncodingGzip') or key_params.get('EnableAcceptEncodingBrotli')
        lines.append(f'proxy_set_header Accept-Encoding "{"$edge_accept_encoding" if accept else ""}";')
        lines += ['proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
                  'proxy_set_header Via "1.1 lab-edge.cloudfront.net (CloudFront)";',
                  'proxy_set_header X-Amz-Cf-Id $request_id;',
                  'proxy_hide_header X-Cache;']
        target = '$request_uri' if 'all' in (key_query, o_query) else '$edge_path'
        lines.append(f'proxy_pass http://{self.args.origin}{target};')

        # ---- the cache ----
        if cache == 'disabled' or int(cache.get('MaxTTL', 0)) == 0:
            lines.append('proxy_cache off;')
        else:
            parts = ['$edge_path' + ('$is_args$args' if key_query == 'all' else ''), ' |']
            parts += [f'{h.lower()}={variable(h)}|' for h in sorted(key_headers or [])]
            if key_cookies == 'all':
                raise Unsupported('all cookies in a cache key')
            parts += [self.cookie(n) for n in sorted(key_cookies or [])]
            if accept:
                parts.append('|ae=$edge_accept_encoding')
            default_ttl, min_ttl = int(cache.get('DefaultTTL', 86400)), int(cache.get('MinTTL', 0))
            lines += ['proxy_cache edge;', f'proxy_cache_key "{"".join(parts)}";', 'proxy_cache_methods GET HEAD;',
                      'proxy_ignore_headers Cache-Control Expires Set-Cookie Vary X-Accel-Expires;',
                      f'proxy_cache_valid {CACHED_STATUSES} {default_ttl}s;',
                      f'proxy_cache_valid {ERROR_STATUSES} 10s;']
            if min_ttl == 0:
                lines.append('proxy_no_cache $edge_origin_says_no;')
        lines.append('add_header X-Cache $edge_x_cache always;')
        return lines

    @staticmethod
    def list_of(config, behaviour_key, list_key, allowed):
        behaviour = config.get(behaviour_key, 'none')
        if behaviour not in allowed:
            raise Unsupported(f'{behaviour_key} {behaviour}')
        if behaviour == 'all':
            return 'all'
        return config.get(list_key, []) if behaviour == 'whitelist' else []

    def generate(self):
        dists = [r for r in self.resources.values() if r['Type'] == 'AWS::CloudFront::Distribution']
        if len(dists) != 1:
            raise Unsupported(f'expected one distribution, found {len(dists)}')
        config = dists[0]['Properties']['DistributionConfig']
        for key in ('DefaultRootObject', 'CustomErrorResponses', 'OriginGroups'):
            if key in config:
                raise Unsupported(f'the lab edge does not implement {key}')
        behaviours = list(config.get('CacheBehaviors', [])) + [dict(config['DefaultCacheBehavior'], PathPattern='*')]
        a = self.args
        https_locations, http_locations = [], []
        for i, b in enumerate(behaviours):
            body = self.behaviour(b)
            regex = pattern_regex(b['PathPattern'])
            block = lambda lines: '\n'.join('        ' + line for line in lines)
            https_locations.append(f'    # behaviour {i}: {b["PathPattern"]}\n    location ~ "{regex}" {{\n{block(body)}\n    }}')
            policy = b['ViewerProtocolPolicy']
            if policy == 'redirect-to-https':
                http_body = ['return 301 https://$host$request_uri;']
            elif policy == 'https-only':
                http_body = ['return 403;']
            elif policy == 'allow-all':
                http_body = body
            else:
                raise Unsupported(f'viewer protocol policy {policy}')
            if http_body is not body:
                http_body = http_body + ['add_header X-Cache "Redirect from cloudfront" always;']
            http_locations.append(f'    location ~ "{regex}" {{\n{block(http_body)}\n    }}')
        cache_dir = os.path.join(a.out_dir, 'cache')
        maps = '\n'.join(self.maps)
        return f"""# Generated by lab/edge.py from the template's CloudFront distribution: do not edit.
worker_processes 2;
pid {a.out_dir}/nginx.pid;
error_log {a.out_dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {a.out_dir}/access.log;
    client_body_temp_path {a.out_dir}/tmp-body;
    proxy_temp_path {a.out_dir}/tmp-proxy;
    fastcgi_temp_path {a.out_dir}/tmp-fastcgi;
    uwsgi_temp_path {a.out_dir}/tmp-uwsgi;
    scgi_temp_path {a.out_dir}/tmp-scgi;
    client_max_body_size 64m;
    proxy_cache_path {cache_dir} levels=1:2 keys_zone=edge:10m max_size=256m inactive=1d use_temp_path=off;
    proxy_http_version 1.1;
    proxy_bind {a.listen};
    proxy_read_timeout 60s;
    proxy_buffering on;
    map $request_uri $edge_path {{ "~^(?<p>[^?]*)" $p; }}
    map $http_accept_encoding $edge_accept_encoding {{ "~*br" "br,gzip"; "~*gzip" gzip; default ""; }}
    map $upstream_http_cache_control $edge_origin_says_no {{ "~*(no-store|no-cache|private|max-age=0\\b)" 1; default ""; }}
    map $upstream_cache_status $edge_x_cache {{ HIT "Hit from cloudfront"; STALE "Hit from cloudfront"; UPDATING "Hit from cloudfront"; REVALIDATED "RefreshHit from cloudfront"; default "Miss from cloudfront"; }}
{maps}
    server {{
        listen {a.listen}:443 ssl;
        server_name _;
        ssl_certificate {a.cert};
        ssl_certificate_key {a.key};
{chr(10).join(https_locations)}
    }}
    server {{
        listen {a.listen}:80;
        server_name _;
{chr(10).join(http_locations)}
    }}
}}
"""


def main():
    p = argparse.ArgumentParser()
    p.add_argument('template')
    p.add_argument('out_dir')
    p.add_argument('--listen', required=True)
    p.add_argument('--origin', required=True)
    p.add_argument('--origin-host', required=True)
    p.add_argument('--cert', required=True)
    p.add_argument('--key', required=True)
    a = p.parse_args()
    a.out_dir = os.path.abspath(a.out_dir)
    os.makedirs(os.path.join(a.out_dir, 'cache'), exist_ok=True)
    try:
        conf = Generator(json.load(open(a.template)), a).generate()
    except Unsupported as e:
        sys.exit(f'edge.py: {e}')
    with open(os.path.join(a.out_dir, 'nginx.conf'), 'w') as f:
        f.write(conf)


if __name__ == '__main__':
    main()
