<?php
/**
 * cdk-scalable-wordpress: writes WordPress's configuration.
 *
 * Usage: printf '%s\0%s\0%s' "$db_secret_json" "$salts" "$cache_secret_json" | php write-config.php /etc/wordpress/config-default.php
 * (the cache secret is empty when the site has no object cache)
 * Debian's /usr/share/wordpress/wp-config.php loads /etc/wordpress/config-default.php, then sets ABSPATH,
 * WP_AUTO_UPDATE_CORE (core is upgraded by apt), HTTPS from X-Forwarded-Proto, and loads wp-settings.php.
 * Site inputs come from the environment (WP_*). Every value is written with var_export, PHP's own
 * escaping: salts contain $, ' and \, which break shell heredocs and naive string building.
 */
const SALT_NAMES = ['AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY',
    'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT'];
const SALT_LENGTH = 64;

function fail(string $message): never {
    fwrite(STDERR, "write-config.php: $message\n");
    exit(1);
}

function env(string $name, bool $required = true): string {
    $value = getenv($name);
    if ($value === false || ($required && $value === '')) {
        fail("$name is not set");
    }
    return (string) $value;
}

$target = $argv[1] ?? fail('usage: write-config.php TARGET');
$parts = explode("\0", stream_get_contents(STDIN), 3);
if (count($parts) !== 3) {
    fail('expected the database secret, the salts and the cache secret on stdin, separated by NUL bytes');
}
[$dbJson, $salts, $cacheJson] = $parts;
$db = json_decode($dbJson, true);
if (!is_array($db) || !isset($db['username'], $db['password'])) {
    fail('the database secret is not JSON with a username and a password');
}
if (strlen($salts) !== count(SALT_NAMES) * SALT_LENGTH) {
    fail('the salts secret must be ' . count(SALT_NAMES) * SALT_LENGTH . ' characters long, got ' . strlen($salts));
}

$port = env('WP_DB_PORT');
$define = fn (string $name, $value) => 'define(' . var_export($name, true) . ', ' . var_export($value, true) . ");\n";

$config = "<?php\n// Written by cdk-scalable-wordpress at every boot from Secrets Manager and the stack. Do not edit.\n";
$config .= "// Loaded by Debian's /usr/share/wordpress/wp-config.php, which then loads WordPress.\n";
$config .= $define('DB_NAME', env('WP_DB_NAME'));
$config .= $define('DB_USER', $db['username']);
$config .= $define('DB_PASSWORD', $db['password']);
$config .= $define('DB_HOST', env('WP_DB_WRITER_HOST') . ':' . $port);
$config .= $define('DB_CHARSET', 'utf8mb4');
$config .= $define('DB_COLLATE', '');
// Every connection (wpdb to the writer, db.php to the readers, install.php's lock) uses TLS and verifies the
// server's certificate: its chain against the system trust store, where boot.sh adds the RDS CA bundle, and
// its name against the endpoint. MYSQLI_CLIENT_SSL alone would encrypt without verifying anything: mysqlnd
// verifies only when asked, or when given a CA with mysqli_ssl_set, which wpdb cannot do.
$config .= "define('MYSQL_CLIENT_FLAGS', MYSQLI_CLIENT_SSL | MYSQLI_CLIENT_SSL_VERIFY_SERVER_CERT);\n";
if (env('WP_DB_ENGINE') === 'aurora-mysql') {
    // Read by the db.php drop-in, which sends anonymous reads to the readers.
    $config .= $define('SCALABLE_WP_DB_READER_HOST', env('WP_DB_READER_HOST') . ':' . $port);
}
foreach (SALT_NAMES as $i => $name) {
    $config .= $define($name, substr($salts, $i * SALT_LENGTH, SALT_LENGTH));
}
$config .= '$table_prefix = ' . var_export('wp_', true) . ";\n";
$config .= $define('WP_HOME', env('WP_SITE_URL'));
$config .= $define('WP_SITEURL', env('WP_SITE_URL'));
$config .= $define('WP_CONTENT_DIR', env('WP_CONTENT'));
$config .= $define('WP_CONTENT_URL', env('WP_SITE_URL') . '/wp-content');
// The suffix of WordPress's cookie names, fixed by the stack: CloudFront's cache key names the personal cookies.
$config .= $define('COOKIEHASH', env('WP_COOKIE_HASH'));
if ((getenv('WP_MAIL_FROM') ?: '') !== '') {
    // Read by the mail mu-plugin, which sends WordPress's mail through SES from this address.
    $config .= $define('SCALABLE_WP_MAIL_FROM', env('WP_MAIL_FROM'));
}
if ((getenv('WP_CACHE_HOST') ?: '') !== '') {
    // Read by the object-cache.php drop-in: ElastiCache Serverless takes TLS only, verified against the system's CAs.
    $cache = json_decode($cacheJson, true);
    if (!is_array($cache) || !isset($cache['username'], $cache['password'])) {
        fail('the cache secret is not JSON with a username and a password');
    }
    $config .= $define('SCALABLE_WORDPRESS_CACHE_HOST', env('WP_CACHE_HOST'));
    $config .= $define('SCALABLE_WORDPRESS_CACHE_PORT', (int) env('WP_CACHE_PORT'));
    $config .= $define('SCALABLE_WORDPRESS_CACHE_TLS', true);
    $config .= $define('SCALABLE_WORDPRESS_CACHE_USER', $cache['username']);
    $config .= $define('SCALABLE_WORDPRESS_CACHE_PASSWORD', $cache['password']);
    // Keys of this site only, should a cache ever be shared: its cookie hash is unique to the stack.
    $config .= $define('WP_CACHE_KEY_SALT', 'wp' . substr(env('WP_COOKIE_HASH'), 0, 8) . ':');
}
$config .= <<<'PHP'
// wp-cron runs from a systemd timer under a fleet-wide lock, not on page views.
define('DISABLE_WP_CRON', true);
define('DISALLOW_FILE_EDIT', true);
define('FS_METHOD', 'direct');
define('WP_MEMORY_LIMIT', '128M');
define('WP_MAX_MEMORY_LIMIT', '256M');
define('WP_ALLOW_MULTISITE', false);

PHP;

$tmp = $target . '.new';
if (file_put_contents($tmp, $config) === false) {
    fail("cannot write $tmp");
}
chmod($tmp, 0640);
chgrp($tmp, 'www-data');
rename($tmp, $target) || fail("cannot move $tmp to $target");
echo "write-config.php: wrote $target\n";
