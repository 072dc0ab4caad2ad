<?php
/**
 * cdk-scalable-wordpress: purges changed pages from every instance's page cache and from CloudFront.
 *
 * One file, two roles:
 * - In WordPress (boot.sh installs it as wp-content/mu-plugins/scalable-wordpress-purge.php): when a post or
 *   page is published, updated, unpublished or trashed, or a comment on it is approved, unapproved or edited,
 *   it records the paths that show it (the post, the home page and posts page, the feed, its term, author and
 *   date archives) in a queue table in the site's database.
 * - As a service on every instance (`php purge.php serve`, systemd, as www-data): it polls the queue every
 *   second and empties this instance's nginx page cache when something changed. With CloudFront
 *   (WP_DISTRIBUTION_ID set) one instance at a time (MySQL GET_LOCK) sends the paths queued 2 s ago or more
 *   and not sent yet as one
 *   `aws cloudfront create-invalidation`; a failed call (e.g. too many invalidations in progress) is retried
 *   10 s later, and the paths stay queued meanwhile.
 *
 * Paths follow CloudFront's invalidation rules: an exact path matches that path and query string only, a
 * trailing `*` matches every path and query string that starts with what precedes it. Each path costs the
 * same ($0.005 past 1,000 a month), and CloudFront allows 15 wildcard paths in progress at a time: so the
 * post itself (its query strings, comment pages and feed) is one wildcard, every list page is exact (its
 * first page; later pages and query variants age out within the page cache lifetime), and a batch of more
 * than 100 paths (a bulk edit) becomes `/*`.
 *
 * The code is terse on purpose: every byte of it travels in the template and is fetched by every instance (comment lines do not).
 */

// The path (and query) of a URL; a wildcard covers what follows it, except on the home page (`/*` is everything).
function swp_path($url, $wild = false) {
    $u = parse_url($url);
    $p = ($u['path'] ?? '') ?: '/';
    if (isset($u['query'])) {
        $p .= '?' . $u['query'];
    }
    return $wild && $p !== '/' ? "$p*" : $p;
}

// The invalidation batch for queued paths: each once, none a wildcard covers, `/*` past 100.
function swp_batch($paths) {
    $paths = array_unique(array_filter($paths, fn ($p) => str_starts_with($p, '/')));
    sort($paths);
    $wild = array_filter($paths, fn ($p) => str_ends_with($p, '*'));
    $out = array_values(array_filter($paths, fn ($p) => !array_filter($wild, fn ($w) => $w !== $p && str_starts_with($p, rtrim($w, '*')))));
    return count($out) > 100 ? ['/*'] : $out;
}

// The paths that show a post: the post (wildcard), and the first page of the lists it is on.
function swp_post_paths($post) {
    $urls = [get_post_type_archive_link($post->post_type), home_url('/')];
    if ($post->post_type === 'post') {
        $date = fn ($f) => get_post_time($f, false, $post);
        array_push($urls, get_feed_link(), get_author_posts_url($post->post_author), get_year_link($date('Y')), get_month_link($date('Y'), $date('m')));
        foreach (get_object_taxonomies('post') as $tax) {
            foreach (is_taxonomy_viewable($tax) ? get_the_terms($post, $tax) ?: [] : [] as $term) {
                $urls[] = get_term_link($term);
            }
        }
    }
    $paths = [swp_path(get_permalink($post), true)];
    foreach ($urls as $url) {
        if (is_string($url) && $url) {
            $paths[] = swp_path($url);
        }
    }
    return array_values(array_unique($paths));
}

const SWP_TABLE = '(id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, path VARCHAR(2000) NOT NULL, sent TINYINT NOT NULL DEFAULT 0, created TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, KEY (sent))';

if (defined('ABSPATH')) {
    // ---- the mu-plugin: record what changed ----
    function swp_record($paths) {
        global $wpdb;
        $table = $wpdb->prefix . 'scalable_purge';
        $values = implode(',', array_map(fn ($p) => $wpdb->prepare('(%s)', $p), array_unique($paths)));
        $quiet = $wpdb->suppress_errors(true);
        if ($values && $wpdb->query("INSERT INTO $table (path) VALUES $values") === false) {
            $wpdb->query("CREATE TABLE IF NOT EXISTS $table " . SWP_TABLE);
            $wpdb->query("INSERT INTO $table (path) VALUES $values");
        }
        $wpdb->suppress_errors($quiet);
    }
    function swp_viewable($post) {
        return $post && !wp_is_post_revision($post) && !wp_is_post_autosave($post) && is_post_type_viewable($post->post_type);
    }
    $GLOBALS['swp_before'] = $GLOBALS['swp_posts'] = [];
    // Before an update, the paths of the post as published: an update may change its slug, and trashing it does.
    add_action('pre_post_update', function ($id) {
        $post = get_post($id);
        if (swp_viewable($post) && $post->post_status === 'publish') {
            $GLOBALS['swp_before'][$id] = swp_post_paths($post);
        }
    });
    add_action('transition_post_status', function ($new, $old, $post) {
        if (($new === 'publish' || $old === 'publish') && swp_viewable($post)) {
            $GLOBALS['swp_posts'][$post->ID] = true;
        }
    }, 10, 3);
    // Recorded at the end of the request, once the post's terms are saved (the REST API saves them after the post).
    add_action('shutdown', function () {
        $paths = [];
        foreach (array_keys($GLOBALS['swp_posts']) as $id) {
            $before = $GLOBALS['swp_before'][$id] ?? [];
            $post = get_post($id);
            array_push($paths, ...$before, ...($post && ($post->post_status === 'publish' || !$before) ? swp_post_paths($post) : []));
        }
        swp_record($paths);
    });
    // A comment shows on its post, its comment pages and feed: the post's wildcard.
    $comment = function ($c) {
        $post = get_post(get_comment($c)->comment_post_ID ?? 0);
        if ($post && $post->post_status === 'publish') {
            swp_record([swp_path(get_permalink($post), true)]);
        }
    };
    add_action('transition_comment_status', fn ($new, $old, $c) => ($new === 'approved' || $old === 'approved') && $comment($c), 10, 3);
    add_action('comment_post', fn ($c, $approved) => $approved === 1 && $comment($c), 10, 2);
    add_action('edit_comment', fn ($c) => wp_get_comment_status($c) === 'approved' && $comment($c));
} elseif (($argv[1] ?? '') === 'serve') {
    // ---- the service: this instance's page cache, and CloudFront from one instance at a time ----
    require '/etc/wordpress/config-default.php';
    $table = $table_prefix . 'scalable_purge';
    $dist = getenv('WP_DISTRIBUTION_ID');
    $db = $last = null;
    $retry = 0;
    function swp_query($sql) {
        global $db;
        $r = mysqli_query($db, $sql);
        $r || $db = null;
        return $r === true ? [] : ($r ? mysqli_fetch_all($r) : null);
    }
    for ($tick = 0;; $tick++, sleep(1)) {
        if (!$db) {
            mysqli_report(MYSQLI_REPORT_OFF);
            [$host, $port] = explode(':', DB_HOST);
            $db = mysqli_init();
            if (!@mysqli_real_connect($db, $host, DB_USER, DB_PASSWORD, DB_NAME, (int) $port, null, MYSQL_CLIENT_FLAGS)) {
                fwrite(STDERR, 'purge.php: ' . mysqli_connect_error() . "\n");
                $db = null;
                continue;
            }
            swp_query("CREATE TABLE IF NOT EXISTS $table " . SWP_TABLE);
            // A new instance's page cache is empty: it starts from the queue as it is.
            $last ??= swp_query("SELECT MAX(id) FROM $table")[0][0] ?? 0;
        }
        $rows = swp_query("SELECT id, path FROM $table WHERE id > " . (int) $last . ' ORDER BY id');
        if ($rows) {
            // Every page of this instance's cache goes (levels=1:2 in nginx-site.conf): it is one render each on demand,
            // and this instance's copies live only pageCacheTtl anyway. CloudFront gets the precise paths.
            array_map('unlink', glob('/var/cache/nginx/wordpress/*/*/*'));
            $last = end($rows)[0];
            echo 'purge.php: emptied the page cache for ' . implode(' ', array_column($rows, 1)) . "\n";
        }
        if ($db && $dist && time() >= $retry && (swp_query("SELECT GET_LOCK('scalable-wordpress-purge', 0)")[0][0] ?? 0) == 1) {
            // Paths queued 2 s ago at least: every instance (polling each second) has emptied its page cache by
            // then, so that CloudFront's next request cannot fetch, and keep, a stale copy from one of them.
            $rows = swp_query("SELECT id, path FROM $table WHERE sent = 0 AND created < NOW() - INTERVAL 2 SECOND ORDER BY id LIMIT 3000");
            if ($rows) {
                $paths = swp_batch(array_column($rows, 1));
                $batch = ['Paths' => ['Quantity' => count($paths), 'Items' => $paths], 'CallerReference' => "scalable-wordpress-{$rows[0][0]}-" . end($rows)[0]];
                exec('aws cloudfront create-invalidation --output text --query Invalidation.Id --distribution-id ' . escapeshellarg($dist)
                    . ' --invalidation-batch ' . escapeshellarg(json_encode($batch)) . ' 2>&1', $out, $rc);
                echo 'purge.php: ' . ($rc ? 'invalidation failed, retrying in 10 s' : 'invalidation') . ' ' . implode(' ', array_splice($out, 0)) . ' of ' . implode(' ', $paths) . "\n";
                $rc ? $retry = time() + 10 : swp_query("UPDATE $table SET sent = 1 WHERE sent = 0 AND id <= " . end($rows)[0]);
            }
            swp_query("SELECT RELEASE_LOCK('scalable-wordpress-purge')");
        }
        if ($db && $tick % 3600 === 0) {
            swp_query("DELETE FROM $table WHERE created < NOW() - INTERVAL 1 DAY");
        }
    }
}
