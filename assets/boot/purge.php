<?php
/**
 * cdk-scalable-wordpress: purges changed pages from every instance's page cache and from CloudFront.
 *
 * One file, two roles:
 * - In WordPress (boot.sh installs it as wp-content/mu-plugins/scalable-wordpress-purge.php): when a post or
 *   page is published, updated, unpublished or trashed, or a comment is approved, unapproved or edited, it
 *   records the paths that show it (the post, the home page, the feeds, its term, author and date archives)
 *   in a queue table in the site's database.
 * - As a service on every instance (`php purge.php serve`, systemd, as www-data): it polls the queue every
 *   second and deletes the matching entries from this instance's nginx page cache. With CloudFront
 *   (WP_DISTRIBUTION_ID set) one instance at a time (MySQL GET_LOCK) sends the paths not sent yet as one
 *   `aws cloudfront create-invalidation`; a failed call (e.g. too many invalidations in progress) is retried
 *   with a growing pause, and the paths stay queued meanwhile.
 *
 * Paths follow CloudFront's invalidation rules: an exact path matches that path and query string only, a
 * trailing `*` matches every path and query string that starts with what precedes it. Each path costs the
 * same ($0.005 past 1,000 a month), and CloudFront allows 15 wildcard paths in progress at a time: so the
 * post itself (its query strings, comment pages and feed) is one wildcard, every list page is exact (its
 * first page; later pages and query variants age out within the page cache lifetime), and a batch of more
 * than MAX_PATHS paths (a bulk edit) becomes `/*`.
 */

const SCALABLE_WP_PURGE_MAX_PATHS = 100;

/** The path (and query) of a URL, as CloudFront and nginx see it; a wildcard covers what follows it. */
function scalable_wp_purge_path(string $url, bool $wildcard = false): ?string {
    $parts = parse_url($url);
    if ($parts === false) {
        return null;
    }
    $path = ($parts['path'] ?? '') === '' ? '/' : $parts['path'];
    if (isset($parts['query'])) {
        $path .= '?' . $parts['query'];
    }
    // `/*` would purge the whole site: the home page is purged exactly.
    return $wildcard && $path !== '/' ? $path . '*' : $path;
}

/** The invalidation batch for queued paths: each once, none covered by a wildcard, `/*` past the limit. */
function scalable_wp_purge_batch(array $paths): array {
    $paths = array_values(array_unique(array_filter($paths, fn ($p) => is_string($p) && str_starts_with($p, '/'))));
    sort($paths);
    $prefixes = array_map(fn ($p) => substr($p, 0, -1), array_filter($paths, fn ($p) => str_ends_with($p, '*')));
    $batch = array_values(array_filter($paths, function ($p) use ($prefixes) {
        foreach ($prefixes as $prefix) {
            if ($p !== $prefix . '*' && str_starts_with($p, $prefix)) {
                return false;
            }
        }
        return true;
    }));
    return count($batch) > SCALABLE_WP_PURGE_MAX_PATHS ? ['/*'] : $batch;
}

/** Whether a request URI (path and query) is matched by a purge path. */
function scalable_wp_purge_matches(string $uri, array $paths): bool {
    foreach ($paths as $p) {
        // Locally purging more costs nothing: an exact path also takes its query-string variants.
        if (str_ends_with($p, '*') ? str_starts_with($uri, substr($p, 0, -1)) : ($uri === $p || str_starts_with($uri, $p . '?'))) {
            return true;
        }
    }
    return false;
}

/** The paths that show a post: the wildcard of the post, and the exact list pages it appears on. */
function scalable_wp_purge_post_paths($post): array {
    $paths = [scalable_wp_purge_path(get_permalink($post), true), scalable_wp_purge_path(home_url('/'))];
    if ($post->post_type === 'post') {
        $urls = [get_feed_link(), get_author_posts_url($post->post_author),
            get_year_link(get_post_time('Y', false, $post)), get_month_link(get_post_time('Y', false, $post), get_post_time('m', false, $post))];
        foreach (get_object_taxonomies($post->post_type) as $taxonomy) {
            if (is_taxonomy_viewable($taxonomy)) {
                foreach (get_the_terms($post, $taxonomy) ?: [] as $term) {
                    $urls[] = get_term_link($term);
                }
            }
        }
    } else {
        $urls = [get_post_type_archive_link($post->post_type)];
    }
    foreach ($urls as $url) {
        if (is_string($url) && $url !== '') {
            $paths[] = scalable_wp_purge_path($url);
        }
    }
    return array_values(array_unique(array_filter($paths)));
}

function scalable_wp_purge_table(): string {
    global $table_prefix;
    return $table_prefix . 'scalable_purge';
}

const SCALABLE_WP_PURGE_SCHEMA = '(id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, path VARCHAR(2000) NOT NULL, '
    . 'sent TINYINT NOT NULL DEFAULT 0, created TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, KEY sent (sent, id))';

if (defined('ABSPATH')) {
    // ---- the mu-plugin: record what changed ----
    function scalable_wp_purge_record(array $paths): void {
        global $wpdb;
        $paths = array_values(array_unique(array_filter($paths)));
        if (!$paths) {
            return;
        }
        $table = scalable_wp_purge_table();
        $values = implode(',', array_map(fn ($p) => $wpdb->prepare('(%s)', $p), $paths));
        $suppress = $wpdb->suppress_errors(true);
        if ($wpdb->query("INSERT INTO $table (path) VALUES $values") === false) {
            $wpdb->query("CREATE TABLE IF NOT EXISTS $table " . SCALABLE_WP_PURGE_SCHEMA);
            $wpdb->query("INSERT INTO $table (path) VALUES $values");
        }
        $wpdb->suppress_errors($suppress);
    }

    function scalable_wp_purge_viewable($post): bool {
        return $post && !wp_is_post_revision($post) && !wp_is_post_autosave($post) && is_post_type_viewable($post->post_type);
    }

    // Before an update, the paths of the post as published: an update may change its slug, and trashing it does.
    $GLOBALS['scalable_wp_purge_before'] = [];
    add_action('pre_post_update', function ($post_id) {
        $post = get_post($post_id);
        if ($post && $post->post_status === 'publish' && scalable_wp_purge_viewable($post)) {
            $GLOBALS['scalable_wp_purge_before'][$post_id] = scalable_wp_purge_post_paths($post);
        }
    });
    // Recorded at the end of the request, once the post's terms are saved (the REST API saves them after the post).
    $GLOBALS['scalable_wp_purge_posts'] = [];
    add_action('transition_post_status', function ($new, $old, $post) {
        if (($new === 'publish' || $old === 'publish') && scalable_wp_purge_viewable($post)) {
            $GLOBALS['scalable_wp_purge_posts'][$post->ID] = true;
        }
    }, 10, 3);
    add_action('shutdown', function () {
        $paths = [];
        foreach (array_keys($GLOBALS['scalable_wp_purge_posts']) as $id) {
            $post = get_post($id);
            array_push($paths, ...($GLOBALS['scalable_wp_purge_before'][$id] ?? []));
            if ($post && ($post->post_status === 'publish' || empty($GLOBALS['scalable_wp_purge_before'][$id]))) {
                array_push($paths, ...scalable_wp_purge_post_paths($post));
            }
        }
        scalable_wp_purge_record($paths);
    });

    // A comment shows on its post (and in its comment pages and feed: the post's wildcard).
    $comment_paths = function ($comment) {
        $comment = get_comment($comment);
        $post = $comment ? get_post($comment->comment_post_ID) : null;
        if ($post && $post->post_status === 'publish') {
            scalable_wp_purge_record([scalable_wp_purge_path(get_permalink($post), true)]);
        }
    };
    add_action('transition_comment_status', function ($new, $old, $comment) use ($comment_paths) {
        if ($new === 'approved' || $old === 'approved') {
            $comment_paths($comment);
        }
    }, 10, 3);
    add_action('comment_post', function ($id, $approved) use ($comment_paths) {
        if ($approved === 1) {
            $comment_paths($id);
        }
    }, 10, 2);
    add_action('edit_comment', function ($id) use ($comment_paths) {
        if (wp_get_comment_status($id) === 'approved') {
            $comment_paths($id);
        }
    });
} elseif (PHP_SAPI === 'cli' && ($argv[1] ?? '') === 'serve') {
    // ---- the service: purge this instance's page cache, and CloudFront from one instance at a time ----
    require '/etc/wordpress/config-default.php';
    $cache_dir = getenv('WP_PAGE_CACHE_DIR') ?: '/var/cache/nginx/wordpress';
    $state_file = getenv('WP_PURGE_STATE') ?: '/var/lib/scalable-wordpress/purged-id';
    $distribution = getenv('WP_DISTRIBUTION_ID') ?: '';
    $log = fn (string $message) => fwrite(STDERR, "purge.php: $message\n");

    $connect = function () use ($log) {
        mysqli_report(MYSQLI_REPORT_OFF);
        [$host, $port] = array_pad(explode(':', DB_HOST, 2), 2, '3306');
        for (;;) {
            $db = mysqli_init();
            mysqli_options($db, MYSQLI_OPT_CONNECT_TIMEOUT, 5);
            if (@mysqli_real_connect($db, $host, DB_USER, DB_PASSWORD, DB_NAME, (int) $port, null, MYSQL_CLIENT_FLAGS)) {
                mysqli_query($db, 'CREATE TABLE IF NOT EXISTS ' . scalable_wp_purge_table() . ' ' . SCALABLE_WP_PURGE_SCHEMA);
                return $db;
            }
            $log('cannot connect to the database: ' . mysqli_connect_error());
            sleep(5);
        }
    };
    // Rows as [id => path]; null when the connection failed.
    $rows = function ($db, string $where) {
        $result = mysqli_query($db, 'SELECT id, path FROM ' . scalable_wp_purge_table() . " WHERE $where ORDER BY id LIMIT 5000");
        return $result ? array_column(mysqli_fetch_all($result), 1, 0) : null;
    };

    // Deletes this instance's cache entries for the paths: each nginx cache file holds its key
    // ($wp_scheme$request_method$host$request_uri, nginx-site.conf) on a "KEY: " line after a binary header.
    $purge_local = function (array $paths) use ($cache_dir, $log) {
        $purged = 0;
        $files = new RecursiveIteratorIterator(new RecursiveDirectoryIterator($cache_dir, FilesystemIterator::SKIP_DOTS));
        foreach ($files as $file) {
            $head = @file_get_contents($file->getPathname(), false, null, 0, 4096);
            if ($head !== false && preg_match('/\nKEY: [^\/\n]*(\/[^\n]*)\n/', $head, $m) && scalable_wp_purge_matches($m[1], $paths)) {
                @unlink($file->getPathname()) && $purged++;
            }
        }
        $log('purged ' . count($paths) . " paths from this instance's page cache ($purged entries)");
    };

    $invalidate = function (array $ids) use ($distribution, $log): bool {
        $paths = scalable_wp_purge_batch(array_values($ids));
        $batch = json_encode(['Paths' => ['Quantity' => count($paths), 'Items' => $paths],
            'CallerReference' => 'scalable-wordpress-' . array_key_first($ids) . '-' . array_key_last($ids)]);
        $process = proc_open(['aws', 'cloudfront', 'create-invalidation', '--distribution-id', $distribution,
            '--invalidation-batch', $batch, '--query', 'Invalidation.Id', '--output', 'text'], [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
        $out = trim(stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]));
        $ok = proc_close($process) === 0;
        $log(($ok ? "invalidation $out" : "invalidation failed: $out") . ' for ' . count($paths) . ' paths: ' . implode(' ', $paths));
        return $ok;
    };

    $db = $connect();
    $last = is_readable($state_file) ? (int) file_get_contents($state_file) : null;
    if ($last === null) {
        $result = mysqli_query($db, 'SELECT COALESCE(MAX(id), 0) FROM ' . scalable_wp_purge_table());
        $last = $result ? (int) mysqli_fetch_row($result)[0] : 0;
    }
    $pause = 0;
    $retry_at = 0;
    for ($tick = 0;; $tick++) {
        $new = $rows($db, 'id > ' . (int) $last);
        if ($new === null) {
            $db = $connect();
            continue;
        }
        if ($new) {
            $purge_local($new);
            $last = array_key_last($new);
            @file_put_contents($state_file, (string) $last);
        }
        if ($distribution !== '' && time() >= $retry_at && ($any = mysqli_query($db, 'SELECT 1 FROM ' . scalable_wp_purge_table() . ' WHERE sent = 0 LIMIT 1')) && mysqli_num_rows($any)) {
            $lock = mysqli_query($db, "SELECT GET_LOCK('scalable-wordpress-purge', 0)");
            if ($lock && mysqli_fetch_row($lock)[0] === '1') {
                $unsent = $rows($db, 'sent = 0') ?: [];
                if ($unsent && $invalidate($unsent)) {
                    mysqli_query($db, 'UPDATE ' . scalable_wp_purge_table() . ' SET sent = 1 WHERE sent = 0 AND id <= ' . (int) array_key_last($unsent));
                    $pause = 0;
                } elseif ($unsent) {
                    $pause = min(max($pause * 2, 2), 60);
                    $retry_at = time() + $pause;
                }
                mysqli_query($db, "SELECT RELEASE_LOCK('scalable-wordpress-purge')");
            }
        }
        if ($tick % 3600 === 0) {
            mysqli_query($db, 'DELETE FROM ' . scalable_wp_purge_table() . ' WHERE created < NOW() - INTERVAL 1 DAY');
        }
        usleep(1000000);
    }
}
