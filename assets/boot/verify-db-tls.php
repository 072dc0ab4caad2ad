<?php
/**
 * cdk-scalable-wordpress: proves, before WordPress is configured, that the database's TLS certificate is
 * verified: its chain against the system trust store (which holds the RDS CA bundle, added by boot.sh) and
 * its name against the endpoint connected to. WordPress, db.php and install.php connect with the same flags
 * (MYSQL_CLIENT_FLAGS, written by write-config.php).
 *
 * Usage: printf '%s' "$db_secret_json" | php verify-db-tls.php
 * Reads WP_DB_WRITER_HOST, WP_DB_READER_HOST (empty without Aurora), WP_DB_PORT and WP_DB_NAME.
 *
 * mysqlnd verifies a server's certificate only when asked: MYSQLI_CLIENT_SSL alone encrypts and checks
 * nothing (unless a CA, a key or a certificate was given with mysqli_ssl_set, which wpdb cannot do).
 * MYSQLI_CLIENT_SSL_VERIFY_SERVER_CERT turns on both OpenSSL's chain check, against openssl.cafile or else
 * OpenSSL's default paths (/etc/ssl/certs on Debian), and the check of the name against the host.
 */
$db = json_decode(stream_get_contents(STDIN), true);
$port = (int) getenv('WP_DB_PORT');
mysqli_report(MYSQLI_REPORT_OFF);
// mysqli reports why TLS failed ("certificate verify failed", "Peer certificate CN=... did not match
// expected CN=...") as warnings only; mysqli_connect_error() just says that TLS failed.
$warnings = [];
set_error_handler(function ($type, $message) use (&$warnings) {
    $warnings[] = preg_replace(['/^mysqli_real_connect\(\): (\(\w+\/\d+\): )?/', '/\s+/'], ['', ' '], $message);
    return true;
});

foreach (['writer' => getenv('WP_DB_WRITER_HOST'), 'reader' => getenv('WP_DB_READER_HOST')] as $role => $host) {
    if (!$host) {
        continue;
    }
    $warnings = [];
    $link = mysqli_init();
    mysqli_options($link, MYSQLI_OPT_CONNECT_TIMEOUT, 10);
    if (mysqli_real_connect($link, $host, $db['username'] ?? '', $db['password'] ?? '', getenv('WP_DB_NAME'), $port, null,
        MYSQLI_CLIENT_SSL | MYSQLI_CLIENT_SSL_VERIFY_SERVER_CERT)) {
        $tls = mysqli_fetch_row(mysqli_query($link, "SHOW SESSION STATUS LIKE 'Ssl_version'"))[1] ?? '?';
        echo "verify-db-tls.php: the $role $host:$port presented a valid certificate for its name ($tls)\n";
        mysqli_close($link);
        continue;
    }
    $reason = implode('; ', array_unique(array_merge($warnings, [mysqli_connect_error()])));
    // Without a reader, db.php reads from the writer: only a certificate the client refused fails the boot.
    if ($role === 'reader' && !preg_match('/SSL|certificate/i', $reason)) {
        echo "verify-db-tls.php: no connection to the reader $host:$port (reads will go to the writer): $reason\n";
        continue;
    }
    fwrite(STDERR, "verify-db-tls.php: no verified TLS connection to the $role $host:$port: $reason\n");
    exit(1);
}
