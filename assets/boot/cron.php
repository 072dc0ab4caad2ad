<?php
/**
 * cdk-scalable-wordpress: runs WordPress's scheduled events from one instance at a time.
 *
 * A systemd timer starts it every minute on every instance (DISABLE_WP_CRON is set, so page views
 * never do). The first to take the MySQL lock runs wp-cron.php; the others exit at once.
 */
$_SERVER['HTTP_HOST'] = parse_url(getenv('WP_SITE_URL') ?: 'http://localhost', PHP_URL_HOST);
require_once '/usr/share/wordpress/wp-load.php';
global $wpdb;
if ($wpdb->get_var("SELECT GET_LOCK('scalable-wordpress-cron', 0)") !== '1') {
    exit(0);
}
require ABSPATH . 'wp-cron.php';
