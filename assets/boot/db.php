<?php
/**
 * cdk-scalable-wordpress: read/write splitting for Aurora (WordPress's db.php drop-in).
 *
 * WordPress loads wp-content/db.php in place of its own database class. This one sends the reads of
 * anonymous GET and HEAD requests to Aurora's reader endpoint, and everything else to the writer:
 * - writes, and every query after a request's first write (it reads its own writes);
 * - wp-admin, logins, cron, XML-RPC, command-line PHP, and any request that is not GET or HEAD;
 * - logged-in users, visitors with a comment or post-password cookie (they must see what they wrote), and
 *   requests with credentials (application passwords);
 * - locking reads, transactions, and FOUND_ROWS() after a query on the writer.
 * If the readers cannot be reached it falls back to the writer for the rest of the request.
 *
 * An anonymous page view connects to a reader only, and to the writer only once a query needs it: most
 * views never open a writer connection, which saves a TLS handshake each and keeps the writer for writes.
 */
defined('ABSPATH') || exit;

class Scalable_WordPress_DB extends wpdb {
    /** @var mysqli|null The writer's connection, as wpdb made it; null until a query needs it. */
    private $writer_dbh = null;
    /** @var mysqli|null|false The reader's connection; false once it failed. */
    protected $reader_dbh = null;
    /** @var bool Whether this request has written: then it reads from the writer too. */
    private $pinned = false;
    /** @var bool|null Whether this request may read from the readers, decided on the first query. */
    private $anonymous_read_request = null;
    /** @var bool Whether the last query went to the reader, for FOUND_ROWS(). */
    private $last_was_reader = false;
    /** @var bool Whether a reader answered a query of this request: object-cache.php then fences what it writes. */
    public $scalable_wordpress_reader_answered = false;

    /**
     * The first call (from the constructor) connects an anonymous page view to a reader alone. Every other
     * call, such as wpdb reconnecting after it lost a connection, reaches the writer.
     */
    public function db_connect($allow_bail = true) {
        if ($this->writer_dbh === null && $this->reader_dbh === null && $this->may_use_readers()) {
            $this->is_mysql = true;
            if ($this->connect_reader()) {
                $this->dbh = $this->reader_dbh;
                $this->ready = true;
                return true;
            }
        }
        $connected = parent::db_connect($allow_bail);
        $this->writer_dbh = $this->dbh;
        return $connected;
    }

    /** The writer's connection, made now if this request has not needed it yet. */
    private function writer() {
        if ($this->writer_dbh === null) {
            $this->db_connect(); // reaches the writer: the reader was tried first already
        }
        return $this->writer_dbh;
    }

    public function query($query) {
        $reader = $this->reader_for($query);
        if ($reader === null) {
            if (!self::is_read($query)) {
                $this->pinned = true;
            }
            $this->dbh = $this->writer();
            $this->last_was_reader = false;
            return parent::query($query);
        }
        $this->dbh = $reader;
        $this->last_was_reader = true;
        $result = parent::query($query);
        if ($this->dbh !== $reader) {
            // The reader was lost mid-query: wpdb reconnected, which always reaches the writer
            // (db_connect above), and ran the query there. Read from the writer from now on.
            $this->reader_dbh = false;
            $this->last_was_reader = false;
        } else {
            $this->scalable_wordpress_reader_answered = true;
        }
        // Between queries (for escaping, for instance), the writer's connection if there is one.
        $this->dbh = $this->writer_dbh ?: $this->reader_dbh;
        return $result;
    }

    /** The reader connection for this query, or null for the writer. */
    private function reader_for($query) {
        if ($this->pinned || $this->reader_dbh === false) {
            return null;
        }
        if (preg_match('/^\s*SELECT\s+FOUND_ROWS\s*\(\s*\)/i', $query)) {
            return $this->last_was_reader ? $this->connect_reader() : null;
        }
        if (!self::is_read($query) || !$this->may_use_readers()) {
            return null;
        }
        return $this->connect_reader();
    }

    /** Plain reads only: no locking reads, no lock functions, no variables set. */
    public static function is_read($query) {
        $query = ltrim(preg_replace('#^\s*(/\*.*?\*/\s*)+#s', '', $query), " \t\n\r(");
        if (!preg_match('/^(SELECT|SHOW|DESCRIBE|DESC|EXPLAIN)\s/i', $query)) {
            return false;
        }
        return !preg_match('/\bFOR\s+UPDATE\b|\bLOCK\s+IN\s+SHARE\s+MODE\b|\bFOR\s+SHARE\b|\b(GET_LOCK|RELEASE_LOCK|IS_FREE_LOCK|IS_USED_LOCK|RELEASE_ALL_LOCKS|LAST_INSERT_ID)\s*\(|@@?\w+\s*:=/i', $query);
    }

    /** Whether the request is an anonymous page view, whose reads may lag the writer by a moment. */
    private function may_use_readers() {
        if ($this->anonymous_read_request === null) {
            $this->anonymous_read_request = self::request_may_use_readers($this->sapi(), $_SERVER, $_COOKIE);
        }
        return $this->anonymous_read_request
            && defined('SCALABLE_WP_DB_READER_HOST')
            && !(defined('WP_INSTALLING') && WP_INSTALLING)
            && !(defined('DOING_CRON') && DOING_CRON)
            && !(defined('DOING_AJAX') && DOING_AJAX);
    }

    /** Which PHP front end runs this request: command-line PHP (cron, install) never uses the readers. */
    protected function sapi() {
        return PHP_SAPI;
    }

    public static function request_may_use_readers($sapi, array $server, array $cookies) {
        if ($sapi === 'cli' || !in_array($server['REQUEST_METHOD'] ?? '', ['GET', 'HEAD'], true)
            || !empty($server['HTTP_AUTHORIZATION']) || !empty($server['PHP_AUTH_USER'])) {
            return false;
        }
        foreach (array_keys($cookies) as $name) {
            if (preg_match('/^(wordpress_logged_in_|wordpress_sec_|wordpress_[0-9a-f]{32}$|wp-postpass_|comment_author_)/', $name)) {
                return false;
            }
        }
        $path = parse_url($server['REQUEST_URI'] ?? '/', PHP_URL_PATH) ?: '/';
        return !preg_match('#^/(wp-admin(/|$)|wp-login\.php|wp-cron\.php|xmlrpc\.php|wp-signup\.php|wp-activate\.php|wp-comments-post\.php)#', $path);
    }

    protected function connect_reader() {
        if ($this->reader_dbh) {
            return $this->reader_dbh;
        }
        [$host, $port, $socket, $is_ipv6] = $this->parse_db_host(SCALABLE_WP_DB_READER_HOST) ?: [null, null, null, false];
        // As wpdb::db_connect() does: errors are return values, not exceptions (PHP 8.1's default).
        mysqli_report(MYSQLI_REPORT_OFF);
        $reader = mysqli_init();
        mysqli_options($reader, MYSQLI_OPT_CONNECT_TIMEOUT, 2);
        // wp-config's flags: TLS, the certificate verified against the reader endpoint's name as for the writer.
        $flags = defined('MYSQL_CLIENT_FLAGS') ? MYSQL_CLIENT_FLAGS : 0;
        $connected = $host !== null && @mysqli_real_connect($reader, $is_ipv6 ? "[$host]" : $host, $this->dbuser, $this->dbpassword, $this->dbname, $port, $socket, $flags);
        if (!$connected) {
            error_log('cdk-scalable-wordpress: the reader endpoint is unreachable, reading from the writer: ' . mysqli_connect_error());
            $this->reader_dbh = false;
            return null;
        }
        $previous = $this->dbh;
        $this->dbh = $reader;
        if (!$this->charset) {
            $this->init_charset(); // as wpdb does on a request's first connection: it asks the server
        }
        $this->set_charset($reader);
        $this->set_sql_mode();
        $this->dbh = $previous;
        $this->reader_dbh = $reader;
        return $reader;
    }
}

$wpdb = new Scalable_WordPress_DB(DB_USER, DB_PASSWORD, DB_NAME, DB_HOST);
