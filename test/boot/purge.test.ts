import { execFileSync } from 'child_process';
import * as path from 'path';

// purge.php's path computation and batching, run by PHP. Its WordPress half runs against stand-ins for the
// WordPress functions it calls (a site on /%postname%/ permalinks); the boot lab runs it in real WordPress.
const PURGE = path.join(__dirname, '..', '..', 'assets', 'boot', 'purge.php');

function php(code: string, wordpress = false): any {
  const prelude = wordpress ? `
    define('ABSPATH', '/');
    $GLOBALS['hooks'] = [];
    function add_action($name, $fn) { $GLOBALS['hooks'][$name][] = $fn; }
    function run($name, ...$args) { foreach ($GLOBALS['hooks'][$name] ?? [] as $fn) { $fn(...$args); } }
    class StubDb { public $queries = []; function prepare($q, $v) { return "('" . addslashes($v) . "')"; }
      function suppress_errors($s) { return false; } function query($q) { $this->queries[] = $q; return 1; } }
    $wpdb = new StubDb(); $table_prefix = 'wp_';
    $GLOBALS['posts'] = [];
    function post($id, $name, $status, $type = 'post') { return $GLOBALS['posts'][$id] = (object) ['ID' => $id, 'post_name' => $name,
      'post_status' => $status, 'post_type' => $type, 'post_author' => 1, 'post_date' => '2026-11-29 10:00:00']; }
    function get_post($id) { return is_object($id) ? $id : ($GLOBALS['posts'][$id] ?? null); }
    function get_permalink($p) { $p = get_post($p); return $p->post_status === 'publish' ? "https://site.example/$p->post_name/" : "https://site.example/?p=$p->ID"; }
    function home_url($p) { return 'https://site.example' . $p; }
    function get_feed_link() { return 'https://site.example/feed/'; }
    function get_author_posts_url($id) { return 'https://site.example/author/admin/'; }
    function get_post_time($f, $gmt, $p) { return date($f, strtotime($p->post_date)); }
    function get_year_link($y) { return "https://site.example/$y/"; }
    function get_month_link($y, $m) { return "https://site.example/$y/$m/"; }
    function get_object_taxonomies($t) { return ['category', 'post_tag', 'post_format']; }
    function is_taxonomy_viewable($t) { return $t !== 'post_format'; }
    function get_the_terms($p, $t) { return $t === 'category' ? [(object) ['slug' => 'news']] : ($t === 'post_tag' ? false : [(object) ['slug' => 'aside']]); }
    function get_term_link($term) { return "https://site.example/category/$term->slug/"; }
    function get_post_type_archive_link($t) { return false; }
    function wp_is_post_revision($p) { return get_post($p)->post_type === 'revision'; }
    function wp_is_post_autosave($p) { return false; }
    function is_post_type_viewable($t) { return in_array($t, ['post', 'page'], true); }
    function get_comment($c) { return (object) ['comment_post_ID' => is_object($c) ? $c->comment_post_ID : $c]; }
    function wp_get_comment_status($id) { return 'approved'; }
    function recorded() { global $wpdb; $all = []; foreach ($wpdb->queries as $q) { if (preg_match_all("/\\('([^']*)'\\)/", $q, $m)) { $all = array_merge($all, $m[1]); } } $wpdb->queries = []; return $all; }
  ` : '';
  return JSON.parse(execFileSync('php', ['-r', `${prelude} require ${JSON.stringify(PURGE)}; echo json_encode((function () { ${code} })());`]).toString());
}

describe('purge.php', () => {
  test('turns URLs into the paths CloudFront and nginx see, a wildcard for what follows a post', () => {
    expect(php(`return [
      swp_path('https://site.example/hello-world/', true),
      swp_path('https://site.example/hello-world/'),
      swp_path('https://site.example', true),
      swp_path('https://site.example/', true),
      swp_path('https://site.example/?p=12', true),
      swp_path('https://site.example/caf%C3%A9/'),
    ];`)).toEqual(['/hello-world/*', '/hello-world/', '/', '/', '/?p=12*', '/caf%C3%A9/']);
  });

  test('batches each path once, drops paths a wildcard covers, and sends /* past 100 paths', () => {
    expect(php('return swp_batch([\'/\', \'/a/*\', \'/a/\', \'/a/feed/\', \'/b/\', \'/\', \'not-a-path\', \'/a/*\']);'))
      .toEqual(['/', '/a/*', '/b/']);
    expect(php('return swp_batch(array_map(fn ($i) => "/p$i/", range(1, 100)));')).toHaveLength(100);
    expect(php('return swp_batch(array_map(fn ($i) => "/p$i/", range(1, 101)));')).toEqual(['/*']);
  });

  test('a published post purges itself (wildcard), the home page, the feed, its author, date and term archives', () => {
    expect(php('return swp_post_paths(post(7, "hello-world", "publish"));', true)).toEqual([
      '/hello-world/*', '/', '/feed/', '/author/admin/', '/2026/', '/2026/11/', '/category/news/',
    ]);
    expect(php('return swp_post_paths(post(8, "about", "publish", "page"));', true)).toEqual(['/about/*', '/']);
  });

  test('publishing, changing the slug, trashing and approving a comment record the right paths; drafts and revisions none', () => {
    const result = php(`
      $out = [];
      // a draft saved: nothing
      $d = post(1, 'draft', 'draft'); run('transition_post_status', 'draft', 'draft', $d); run('shutdown'); $out['draft'] = recorded();
      $GLOBALS["swp_posts"] = [];
      // published
      $p = post(2, 'first', 'publish'); run('transition_post_status', 'publish', 'draft', $p); run('shutdown'); $out['publish'] = recorded();
      $GLOBALS["swp_posts"] = [];
      // slug changed: the old address and the new one
      run('pre_post_update', 2); $p = post(2, 'renamed', 'publish'); run('transition_post_status', 'publish', 'publish', $p); run('shutdown'); $out['renamed'] = recorded();
      $GLOBALS["swp_posts"] = [];
      // trashed: the address it had
      run('pre_post_update', 2); $p = post(2, 'renamed__trashed', 'trash'); run('transition_post_status', 'trash', 'publish', $p); run('shutdown'); $out['trash'] = recorded();
      $GLOBALS["swp_posts"] = [];
      // a revision: nothing
      $r = post(3, '2-revision-v1', 'inherit', 'revision'); run('transition_post_status', 'inherit', 'new', $r); run('shutdown'); $out['revision'] = recorded();
      // a comment approved on a published post
      post(4, 'commented', 'publish'); run('transition_comment_status', 'approved', 'unapproved', (object) ['comment_post_ID' => 4]); $out['comment'] = recorded();
      run('transition_comment_status', 'spam', 'unapproved', (object) ['comment_post_ID' => 4]); $out['spam'] = recorded();
      return $out;`, true);
    const lists = ['/', '/feed/', '/author/admin/', '/2026/', '/2026/11/', '/category/news/'];
    expect(result.draft).toEqual([]);
    expect(result.publish).toEqual(['/first/*', ...lists]);
    expect(result.renamed).toEqual(['/first/*', ...lists, '/renamed/*']);
    expect(result.trash).toEqual(['/renamed/*', ...lists]);
    expect(result.revision).toEqual([]);
    expect(result.comment).toEqual(['/commented/*']);
    expect(result.spam).toEqual([]);
  });
});
