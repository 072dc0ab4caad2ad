<?php
// Runs the object-cache.php drop-in as one WordPress request would, against the redis-server the test started.
// Input: a JSON file (argv[1]) with dropIn, constants, db (a JSON file that stands in for the options table,
// shared by the test's "instances"), multisite, reader (whether an Aurora reader has answered a query), and
// code: PHP run after wp_cache_init, whose return value is printed as JSON with the queries the request made
// and the time the code took. silentPort: the cache's port is one that never answers a connection.
$input = json_decode(file_get_contents($argv[1]), true);
define('ABSPATH', '/');
if ($input['silentPort']) {
    // A port whose listen queue is full: a connection to it waits for the connect timeout, as to a lost host.
    $listener = stream_socket_server('tcp://127.0.0.1:0', $errno, $error, STREAM_SERVER_BIND | STREAM_SERVER_LISTEN, stream_context_create(['socket' => ['backlog' => 0]]));
    $input['constants']['SCALABLE_WORDPRESS_CACHE_PORT'] = (int) explode(':', stream_socket_get_name($listener, false))[1];
    $queued = stream_socket_client('tcp://127.0.0.1:' . $input['constants']['SCALABLE_WORDPRESS_CACHE_PORT']);
}
foreach ($input['constants'] as $name => $value) {
    define($name, $value);
}

// What the drop-in uses of WordPress's wpdb: get_var and query on the options table, and suppress_errors. The
// table is a JSON file ({"table": false} before install); any other statement fails the test.
class StandInDb {
    public $base_prefix = 'wp_';
    public $options = 'wp_options';
    public $scalable_wordpress_reader_answered = false;
    public $insert_id = 7;
    public $num_rows = 7;
    public $rows_affected = 7;
    public $last_result = ['the caller\'s'];
    public $last_query = 'the caller\'s';
    public $last_error = '';
    public $queries = [];
    private $suppress = false;

    public function __construct(private string $file) {
    }

    public function suppress_errors($suppress = true) {
        [$previous, $this->suppress] = [$this->suppress, $suppress];
        return $previous;
    }

    public function get_var($sql) {
        $this->queries[] = $sql;
        $state = $this->state();
        if (!preg_match("/^SELECT option_value FROM wp_options WHERE option_name = '(\\w+)'$/", $sql, $m)) {
            throw new LogicException("unexpected query: $sql");
        }
        if (!$state['table']) {
            return $this->error("Table 'wp_options' doesn't exist", null);
        }
        return $state['options'][$m[1]]['value'] ?? null;
    }

    public function query($sql) {
        $this->queries[] = $sql;
        $state = $this->state();
        $values = "INTO wp_options \\(option_name, option_value, autoload\\) VALUES \\('(\\w+)', '([\\w-]+)', '(\\w+)'\\)";
        if (preg_match("/^INSERT IGNORE $values$/", $sql, $m)) {
            $overwrite = false;
        } elseif (preg_match("/^INSERT $values ON DUPLICATE KEY UPDATE option_value = '\\2'$/", $sql, $m)) {
            $overwrite = true;
        } else {
            throw new LogicException("unexpected query: $sql");
        }
        if (!$state['table']) {
            return $this->error("Table 'wp_options' doesn't exist", false);
        }
        $this->insert_id = $this->rows_affected = 0;
        if ($overwrite || !isset($state['options'][$m[1]])) {
            $this->rows_affected = isset($state['options'][$m[1]]) ? 2 : 1; // as MySQL counts an upsert
            $state['options'][$m[1]] = ['value' => $m[2], 'autoload' => $m[3]];
            file_put_contents($this->file, json_encode($state));
        }
        return $this->rows_affected;
    }

    /** As wpdb starts each query: the last results go. */
    private function state() {
        $this->last_query = end($this->queries);
        $this->last_result = [];
        $this->num_rows = 0;
        $this->last_error = '';
        return json_decode(file_get_contents($this->file), true);
    }

    private function error($message, $result) {
        $this->last_error = $message;
        if (!$this->suppress) {
            echo "WordPress database error $message\n"; // as wpdb prints it: the test's JSON no longer parses
        }
        return $result;
    }
}

$wpdb = new StandInDb($input['db']);
$wpdb->scalable_wordpress_reader_answered = $input['reader'];
$GLOBALS['blog_id'] = 1;
$GLOBALS['suspend'] = false;
$GLOBALS['wrong'] = [];
function is_multisite() { global $input; return $input['multisite']; }
function get_current_blog_id() { return $GLOBALS['blog_id']; }
function wp_suspend_cache_addition() { return $GLOBALS['suspend']; }
function _doing_it_wrong($function, $message, $version) { $GLOBALS['wrong'][] = $function; }
function _deprecated_function($function, $version, $replacement) { $GLOBALS['wrong'][] = $function; }

/** A connection of the test's own, to look at what the drop-in left in Redis. */
function raw_redis() {
    $redis = new Redis();
    $redis->connect(SCALABLE_WORDPRESS_CACHE_HOST, SCALABLE_WORDPRESS_CACHE_PORT);
    $redis->auth([SCALABLE_WORDPRESS_CACHE_USER, SCALABLE_WORDPRESS_CACHE_PASSWORD]);
    return $redis;
}

require $input['dropIn'];
$start = microtime(true);
wp_cache_init();
$result = (function () { global $wpdb, $input; return eval($input['code']); })();
echo json_encode([
    'result' => $result,
    'seconds' => microtime(true) - $start,
    'queries' => $wpdb->queries,
    // The caller's results, which the drop-in's queries must leave as they were.
    'callerKept' => [$wpdb->insert_id, $wpdb->num_rows, $wpdb->rows_affected, $wpdb->last_result, $wpdb->last_query] === [7, 7, 7, ['the caller\'s'], 'the caller\'s'],
]);
