<?php
/**
 * cdk-scalable-wordpress: installs WordPress once for the whole fleet, and upgrades its database
 * after a new WordPress package.
 *
 * Usage: printf '%s' "$admin_secret_json" | php install.php   (as www-data)
 * Instances race at first boot, so the work runs under a MySQL lock: the first installs, the others
 * wait, then find WordPress installed and skip. wp-cli is not packaged in Debian, so this calls
 * wp_install() itself.
 */

function fail(string $message): never {
    fwrite(STDERR, "install.php: $message\n");
    exit(1);
}

// WordPress ends a failed database connection with wp_die(), which exits with status 0 under PHP's CLI:
// only reaching the end of this script counts as success.
$scalable_wp_done = false;
register_shutdown_function(function () {
    if (!$GLOBALS['scalable_wp_done']) {
        fwrite(STDERR, "install.php: WordPress stopped before the install finished (see above)\n");
        exit(1);
    }
});

$admin = json_decode(stream_get_contents(STDIN), true);
if (!is_array($admin) || !isset($admin['username'], $admin['email'], $admin['password'])) {
    fail('the admin secret is not JSON with a username, an email and a password');
}

// The lock is taken on a connection of our own, before WordPress loads: loading WordPress already asks
// whether it is installed, and a half-installed database (another instance mid-install) makes it die.
require_once '/etc/wordpress/config-default.php';
mysqli_report(MYSQLI_REPORT_OFF);
$lock = mysqli_init();
[$lock_host, $lock_port] = array_pad(explode(':', DB_HOST, 2), 2, '3306');
if (!@mysqli_real_connect($lock, $lock_host, DB_USER, DB_PASSWORD, DB_NAME, (int) $lock_port, null, MYSQL_CLIENT_FLAGS)) {
    fail('cannot connect to the database at ' . DB_HOST . ': ' . mysqli_connect_error());
}
$got = mysqli_query($lock, "SELECT GET_LOCK('scalable-wordpress-install', 600)");
if (!$got || mysqli_fetch_row($got)[0] !== '1') {
    fail('could not take the install lock within 10 minutes');
}

define('WP_INSTALLING', true);
$_SERVER['HTTP_HOST'] = parse_url(getenv('WP_SITE_URL') ?: 'http://localhost', PHP_URL_HOST);
$_SERVER['REQUEST_URI'] = '/';
require_once '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-includes/version.php';
global $wp_db_version, $wp_rewrite;

if (!is_blog_installed()) {
    $result = wp_install(getenv('WP_SITE_TITLE') ?: 'WordPress', $admin['username'], $admin['email'], true, '', wp_slash($admin['password']));
    if (is_wp_error($result)) {
        fail('wp_install failed: ' . $result->get_error_message());
    }
    // Plain permalinks become pretty ones; nginx routes everything to index.php.
    $wp_rewrite->set_permalink_structure('/%postname%/');
    $wp_rewrite->flush_rules(false);
    echo "install.php: installed WordPress, administrator '{$admin['username']}'\n";
} elseif ((int) get_option('db_version') !== (int) $wp_db_version) {
    wp_upgrade();
    echo "install.php: upgraded the database to version $wp_db_version\n";
} else {
    echo "install.php: WordPress is installed already\n";
}
mysqli_query($lock, "SELECT RELEASE_LOCK('scalable-wordpress-install')");
$scalable_wp_done = true;
