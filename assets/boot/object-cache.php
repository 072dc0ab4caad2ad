<?php
/**
 * cdk-scalable-wordpress: WordPress's persistent object cache (wp-content/object-cache.php) on ElastiCache
 * Serverless for Valkey, through the php-redis extension.
 *
 * wp-config.php's constants: SCALABLE_WORDPRESS_CACHE_HOST, _PORT, _USER and _PASSWORD (the RBAC user), _TLS (the
 * peer verified against the system's CAs, or SCALABLE_WORDPRESS_CACHE_CA_FILE), and WP_CACHE_KEY_SALT, the prefix.
 *
 * A runtime array per request sits in front of Redis. A key is SALT GENERATION ':' [BLOG ':'] '{GROUP}'
 * GROUP_GENERATION ':' KEY. The group in braces is a hash tag: a group's keys share a slot of the cluster, so one
 * MGET reads many. GROUP_GENERATION, a key beside them, is what wp_cache_flush_group moves on.
 *
 * GENERATION lives in the database, a row of the options table that wp_cache_init reads with one query:
 * - wp_cache_flush writes a new random one, so that every instance drops every key at once.
 * - So does a change that cannot reach Redis (once per request): when Redis is back, no instance serves a value
 *   older than that change. Meanwhile every request runs from the database, after one connection attempt.
 * - No options table (WordPress not installed yet): the request uses no persistent cache at all.
 * - Without SCALABLE_WORDPRESS_CACHE_HOST, WordPress's runtime cache and no query; yet a change still moves the
 *   generation on. The drop-in is in wp-content only on a site with a cache (boot.sh), and wp-content is shared:
 *   an instance without the constants is one that booted before the cache, and its changes must not leave
 *   stale objects in it.
 *
 * Replica lag: once an Aurora reader answered a query of this request (db.php's flag), what it writes may be
 * older than the writer's data. Such a request never overwrites a value (SET NX; a set that finds a value leaves a
 * tombstone there, since it may be a change), and writes no value within FENCE_SECONDS of a generation change (the
 * old generation's tombstones are out of sight then). Every delete leaves a tombstone, so that a lagging request
 * cannot put back what it removed.
 */
defined('ABSPATH') || exit;

function wp_cache_init() { $GLOBALS['wp_object_cache'] = new WP_Object_Cache(); }
function wp_cache_add($key, $data, $group = '', $expire = 0) { return $GLOBALS['wp_object_cache']->add($key, $data, $group, (int) $expire); }
function wp_cache_add_multiple(array $data, $group = '', $expire = 0) { return $GLOBALS['wp_object_cache']->add_multiple($data, $group, (int) $expire); }
function wp_cache_replace($key, $data, $group = '', $expire = 0) { return $GLOBALS['wp_object_cache']->replace($key, $data, $group, (int) $expire); }
function wp_cache_set($key, $data, $group = '', $expire = 0) { return $GLOBALS['wp_object_cache']->set($key, $data, $group, (int) $expire); }
function wp_cache_set_multiple(array $data, $group = '', $expire = 0) { return $GLOBALS['wp_object_cache']->set_multiple($data, $group, (int) $expire); }
function wp_cache_get($key, $group = '', $force = false, &$found = null) { return $GLOBALS['wp_object_cache']->get($key, $group, $force, $found); }
function wp_cache_get_multiple($keys, $group = '', $force = false) { return $GLOBALS['wp_object_cache']->get_multiple($keys, $group, $force); }
function wp_cache_delete($key, $group = '') { return $GLOBALS['wp_object_cache']->delete($key, $group); }
function wp_cache_delete_multiple(array $keys, $group = '') { return $GLOBALS['wp_object_cache']->delete_multiple($keys, $group); }
function wp_cache_incr($key, $offset = 1, $group = '') { return $GLOBALS['wp_object_cache']->incr($key, $offset, $group); }
function wp_cache_decr($key, $offset = 1, $group = '') { return $GLOBALS['wp_object_cache']->decr($key, $offset, $group); }
function wp_cache_flush() { return $GLOBALS['wp_object_cache']->flush(); }
function wp_cache_flush_runtime() { return $GLOBALS['wp_object_cache']->flush_runtime(); }
function wp_cache_flush_group($group) { return $GLOBALS['wp_object_cache']->flush_group($group); }
function wp_cache_supports($feature) { return in_array($feature, ['add_multiple', 'set_multiple', 'get_multiple', 'delete_multiple', 'flush_runtime', 'flush_group'], true); }
function wp_cache_close() { return true; }
function wp_cache_add_global_groups($groups) { $GLOBALS['wp_object_cache']->add_global_groups($groups); }
function wp_cache_add_non_persistent_groups($groups) { $GLOBALS['wp_object_cache']->add_non_persistent_groups($groups); }
function wp_cache_switch_to_blog($blog_id) { $GLOBALS['wp_object_cache']->switch_to_blog($blog_id); }
function wp_cache_reset() {
    function_exists('_deprecated_function') && _deprecated_function(__FUNCTION__, '3.5.0', 'wp_cache_switch_to_blog()');
    return false;
}

class WP_Object_Cache {
    const GENERATION_OPTION = 'scalable_wordpress_cache_generation';
    /** The lifetime of a key set with expire 0: every key has one, so that Valkey may evict (volatile-lru). */
    const DEFAULT_TTL = 86400;
    /** A group generation's lifetime: when it expires or is evicted, the group starts afresh, which is safe. */
    const GROUP_TTL = 604800;
    /** How long a tombstone lasts, and the fence after a generation changed: well above the replicas' lag. */
    const FENCE_SECONDS = 10;
    /** What a delete leaves. No serialization, no integer: it reads as a miss. */
    const TOMBSTONE = '!deleted';
    /**
     * The writes that read the key first, in one step so that no other request comes between. KEYS[1]; ARGV:
     * mode, value, ttl, tombstone, fence. Modes: 'add' (over nothing or a tombstone), 'add-nx' (over nothing),
     * 'check' (writes nothing), 'set-nx' (over nothing, else a tombstone), 'delete' (a tombstone). Answers 0 when a
     * live value stopped an add (for 'delete': there was none), 1 when it wrote (for 'delete': there was one), 2
     * when it wrote nothing and there is no live value.
     */
    const WRITE = <<<'LUA'
local old = redis.call('GET', KEYS[1])
local live = old and old ~= ARGV[4]
if ARGV[1] == 'delete' or (ARGV[1] == 'set-nx' and old) then
  redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[5])
  return live and 1 or 0
end
if live then return 0 end
if ARGV[1] == 'check' or (ARGV[1] == 'add-nx' and old) then return 2 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
LUA;
    /** INCRBY of a live integer only (INCRBY alone would make a missing key, without a lifetime), floored at 0. */
    const INCR = <<<'LUA'
local old = redis.call('GET', KEYS[1])
if not old or not string.match(old, '^%-?%d+$') then return false end
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n < 0 then redis.call('SET', KEYS[1], '0', 'KEEPTTL') n = 0 end
return n
LUA;
    /** A group's generation, made (ARGV[1], for ARGV[2] seconds) when it has none. */
    const GROUP_GENERATION = <<<'LUA'
local g = redis.call('GET', KEYS[1])
if g then return g end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return ARGV[1]
LUA;

    /** @var array The runtime array, group => id => value, as in core's cache. */
    public $cache = [];
    public $cache_hits = 0;
    public $cache_misses = 0;
    private $global_groups = [];
    private $non_persistent_groups = [];
    private $multisite;
    private $blog_id;
    private $blog_prefix;
    /** @var string|false|null "TIME-RANDOM"; false: no persistent cache in this request; null: not configured. */
    private $generation = null;
    private $group_generations = [];
    /** @var Redis|false|null Null until the first command; false when not configured, or once anything failed. */
    private $redis = null;
    private $moved_on = false;

    public function __construct() {
        $this->multisite = function_exists('is_multisite') && is_multisite();
        $this->switch_to_blog(function_exists('get_current_blog_id') ? get_current_blog_id() : 1);
        $configured = defined('SCALABLE_WORDPRESS_CACHE_HOST') && SCALABLE_WORDPRESS_CACHE_HOST;
        $this->redis = $configured ? null : false;
        $this->generation = !isset($GLOBALS['wpdb']) ? false : ($configured ? $this->read_generation() : null);
    }

    public function add($key, $data, $group = '', $expire = 0) {
        if ((function_exists('wp_suspend_cache_addition') && wp_suspend_cache_addition()) || !$this->valid($key)) {
            return false;
        }
        [$id, $group] = $this->id($key, $group);
        if ($this->in_runtime($id, $group)) {
            return false;
        }
        $data = is_object($data) ? clone $data : $data;
        // An add that cannot reach Redis leaves the generation alone: it only fills what Redis lacks (WordPress
        // records its changes with set and delete), and moving on would write the database on every page view.
        if ($this->persistent($group) && $this->write($key, $group, 'add', $data, $expire) === 0) {
            return false;
        }
        $this->cache[$group][$id] = $data;
        return true;
    }

    public function add_multiple(array $data, $group = '', $expire = 0) {
        return array_combine(array_keys($data), array_map(fn ($key, $value) => $this->add($key, $value, $group, $expire), array_keys($data), $data));
    }

    public function replace($key, $data, $group = '', $expire = 0) {
        $this->get($key, $group, false, $found);
        return $found ? $this->set($key, $data, $group, $expire) : $this->missed($group);
    }

    public function set($key, $data, $group = '', $expire = 0) {
        if (!$this->valid($key)) {
            return false;
        }
        [$id, $group] = $this->id($key, $group);
        $this->cache[$group][$id] = is_object($data) ? clone $data : $data;
        if ($this->persistent($group) && $this->write($key, $group, 'set', $data, $expire) === null) {
            $this->changed_offline();
        }
        return true;
    }

    public function set_multiple(array $data, $group = '', $expire = 0) {
        return array_combine(array_keys($data), array_map(fn ($key, $value) => $this->set($key, $value, $group, $expire), array_keys($data), $data));
    }

    public function get($key, $group = '', $force = false, &$found = null) {
        $value = $this->valid($key) ? $this->get_multiple([$key], $group, $force, $hits)[$key] : false;
        $found = ($hits ?? 0) === 1;
        return $value;
    }

    /** One MGET for the keys that the runtime array lacks (all of them with $force): a group's keys share a slot. */
    public function get_multiple($keys, $group = '', $force = false, &$hits = null) {
        $group = $group ?: 'default';
        [$values, $fetch, $hits] = [[], [], 0];
        foreach ($keys as $key) {
            $values[$key] = false;
            if (!$this->valid($key)) {
                continue;
            }
            [$id] = $this->id($key, $group);
            if ($this->persistent($group) && ($force || !$this->in_runtime($id, $group))) {
                $fetch[$id] = $key;
            } elseif ($this->in_runtime($id, $group)) {
                $values[$key] = self::copy($this->cache[$group][$id]);
                $hits++;
            }
        }
        $redis_keys = array_values(array_map(fn ($key) => $this->key($key, $group), $fetch));
        $raw = $fetch && !in_array(null, $redis_keys, true) ? $this->call(fn ($r) => $r->mget($redis_keys)) : null;
        foreach (array_keys($fetch) as $i => $id) {
            $value = self::decode($raw[$i] ?? false, $hit);
            if ($hit) {
                $this->cache[$group][$id] = $value;
            } elseif ($raw !== null || !$this->in_runtime($id, $group)) {
                continue; // a miss; with Redis down, a forced read falls back on the runtime copy
            }
            $values[$fetch[$id]] = self::copy($this->cache[$group][$id]);
            $hits++;
        }
        $this->cache_hits += $hits;
        $this->cache_misses += count($keys) - $hits;
        return $values;
    }

    public function delete($key, $group = '', $deprecated = false) {
        if (!$this->valid($key)) {
            return false;
        }
        [$id, $group] = $this->id($key, $group);
        $existed = $this->in_runtime($id, $group);
        unset($this->cache[$group][$id]);
        $result = $this->persistent($group) ? $this->write($key, $group, 'delete') : 0;
        $result === null && $this->changed_offline();
        return $existed || $result === 1;
    }

    public function delete_multiple(array $keys, $group = '') {
        return array_combine($keys, array_map(fn ($key) => $this->delete($key, $group), $keys));
    }

    public function incr($key, $offset = 1, $group = '') {
        $value = $this->get($key, $group, false, $found);
        if (!$found) {
            return $this->missed($group);
        }
        [$id, $group] = $this->id($key, $group);
        // Integers are stored bare, so that the requests of every instance add up in Redis. The sum owes nothing
        // to a replica: this runs in every request.
        $redis_key = $this->persistent($group) && is_int($value) ? $this->key($key, $group) : null;
        $n = $redis_key === null ? null : $this->call(fn ($r) => $r->eval(self::INCR, [$redis_key, (int) $offset], 1));
        if (is_int($n)) {
            return $this->cache[$group][$id] = $n;
        }
        // Not an integer, or gone from Redis meanwhile; or Redis is down, and set() moves the generation on.
        $value = max(0, (is_numeric($value) ? $value : 0) + (int) $offset);
        $this->set($key, $value, $group);
        return $value;
    }

    public function decr($key, $offset = 1, $group = '') {
        return $this->incr($key, -(int) $offset, $group);
    }

    /** Moves the generation on in the database: during install, before the options table exists, nothing to do. */
    public function flush() {
        [$this->cache, $this->group_generations] = [[], []];
        isset($GLOBALS['wpdb']) && $this->move_generation_on();
        return true;
    }

    public function flush_runtime() {
        $this->cache = [];
        return true;
    }

    public function flush_group($group) {
        $group = $group ?: 'default';
        unset($this->cache[$group]);
        if ($this->persistent($group)) {
            $generation = self::new_generation();
            $stored = $this->call(fn ($r) => $r->setex($this->group_key($group), self::GROUP_TTL, $generation)) !== null;
            $stored ? $this->group_generations[$group] = $generation : $this->changed_offline();
        }
        return true;
    }

    public function add_global_groups($groups) {
        $this->global_groups += array_fill_keys((array) $groups, true);
    }

    public function add_non_persistent_groups($groups) {
        $this->non_persistent_groups += array_fill_keys((array) $groups, true);
    }

    public function switch_to_blog($blog_id) {
        $this->blog_id = (int) $blog_id;
        $this->blog_prefix = $this->multisite ? $this->blog_id . ':' : '';
    }

    private function valid($key) {
        if (is_int($key) || (is_string($key) && trim($key) !== '')) {
            return true;
        }
        function_exists('_doing_it_wrong') && _doing_it_wrong(__METHOD__, 'Cache key must be an integer or a non-empty string.', '6.1.0');
        return false;
    }

    /** The key in the runtime array (blog-prefixed outside global groups, as in core's cache), and the group. */
    private function id($key, $group) {
        $group = $group ?: 'default';
        return [isset($this->global_groups[$group]) ? $key : $this->blog_prefix . $key, $group];
    }

    private function in_runtime($id, $group) {
        return isset($this->cache[$group]) && (isset($this->cache[$group][$id]) || array_key_exists($id, $this->cache[$group]));
    }

    private function persistent($group) {
        return $this->generation !== false && !isset($this->non_persistent_groups[$group]);
    }

    /** Whether the generation or the group's generation changed less than FENCE_SECONDS ago. */
    private function fenced($group) {
        return time() - max((int) $this->generation, (int) ($this->group_generations[$group] ?? 0)) < self::FENCE_SECONDS;
    }

    /** The Redis key, or null when Redis cannot be reached. */
    private function key($key, $group) {
        if (!isset($this->group_generations[$group])) {
            $generation = $this->call(fn ($r) => $r->eval(self::GROUP_GENERATION, [$this->group_key($group), self::new_generation(), self::GROUP_TTL], 1));
            if (!is_string($generation)) {
                return null;
            }
            $this->group_generations[$group] = $generation;
        }
        $blog = isset($this->global_groups[$group]) ? '' : $this->blog_id . ':';
        return $this->group_key($group, $blog) . $this->group_generations[$group] . ':' . $key;
    }

    private function group_key($group, $blog = '') {
        return (defined('WP_CACHE_KEY_SALT') ? WP_CACHE_KEY_SALT : '') . $this->generation . ':' . $blog . '{' . $group . '}';
    }

    /**
     * Writes a set, an add or a delete: the answer (see WRITE; true for a plain set), or null when Redis cannot be
     * reached. After a reader answered, the value goes only where there is nothing, and nowhere while fenced.
     */
    private function write($key, $group, $op, $data = null, $expire = 0) {
        $redis_key = $this->key($key, $group);
        $value = $op === 'delete' ? '' : self::encode($data);
        if ($op !== 'delete' && ($value === null || !empty($GLOBALS['wpdb']->scalable_wordpress_reader_answered))) {
            $fenced = $value === null || $this->fenced($group); // a value PHP cannot serialize is never written
            $op = $op === 'add' ? ($fenced ? 'check' : 'add-nx') : ($fenced ? 'delete' : 'set-nx');
        }
        $ttl = $expire > 0 ? $expire : self::DEFAULT_TTL;
        $args = [$redis_key, $op, $value, $ttl, self::TOMBSTONE, self::FENCE_SECONDS];
        return $redis_key === null ? null
            : $this->call(fn ($r) => $op === 'set' ? $r->setex($redis_key, $ttl, $value) : $r->eval(self::WRITE, $args, 1));
    }

    private static function copy($value) {
        return is_object($value) ? clone $value : $value;
    }

    /** Integers bare (for INCRBY), everything else serialized by PHP; null for what PHP cannot serialize. */
    private static function encode($value) {
        try {
            return is_int($value) ? (string) $value : serialize($value);
        } catch (Throwable $e) {
            return null; // a closure, say
        }
    }

    private static function decode($raw, &$hit) {
        if (is_string($raw) && preg_match('/^-?[0-9]+$/', $raw)) {
            $hit = true;
            return (int) $raw;
        }
        $value = is_string($raw) ? @unserialize($raw) : false;
        $hit = $value !== false || $raw === 'b:0;';
        return $value;
    }

    /**
     * Runs $command, connecting first if need be. Null when Redis cannot be reached or answered an error: then the
     * request uses the runtime array alone, and tries no other connection. The visitor sees nothing; the log, a line.
     */
    private function call($command) {
        if ($this->redis === false) {
            return null;
        }
        set_error_handler(fn () => true); // php-redis's warnings (a TLS failure, say) are not for the page
        try {
            if ($this->redis === null) {
                $this->redis = false;
                $this->redis = $this->connect();
            }
            $this->redis->clearLastError();
            $result = $command($this->redis);
            if ($this->redis->getLastError() !== null) {
                throw new RuntimeException($this->redis->getLastError());
            }
            return $result;
        } catch (Throwable $e) {
            $this->redis = false;
            error_log('cdk-scalable-wordpress: the object cache is unreachable, this request runs from the database: ' . $e->getMessage());
            return null;
        } finally {
            restore_error_handler();
        }
    }

    private function connect() {
        $redis = new Redis();
        [$host, $context] = [SCALABLE_WORDPRESS_CACHE_HOST, []];
        if (defined('SCALABLE_WORDPRESS_CACHE_TLS') && SCALABLE_WORDPRESS_CACHE_TLS) {
            $stream = ['verify_peer' => true, 'verify_peer_name' => true];
            defined('SCALABLE_WORDPRESS_CACHE_CA_FILE') && $stream['cafile'] = SCALABLE_WORDPRESS_CACHE_CA_FILE;
            // php-redis 5.3 takes no null for the context: without TLS, the argument is left out.
            [$host, $context] = ['tls://' . $host, [['stream' => $stream]]];
        }
        $port = defined('SCALABLE_WORDPRESS_CACHE_PORT') ? (int) SCALABLE_WORDPRESS_CACHE_PORT : 6379;
        if (!$redis->connect($host, $port, 0.5, null, 0, 1.0, ...$context)) {
            throw new RuntimeException("cannot connect to $host:$port");
        }
        $password = defined('SCALABLE_WORDPRESS_CACHE_PASSWORD') ? SCALABLE_WORDPRESS_CACHE_PASSWORD : '';
        $user = defined('SCALABLE_WORDPRESS_CACHE_USER') ? SCALABLE_WORDPRESS_CACHE_USER : '';
        if ($password !== '' && !$redis->auth($user !== '' ? [$user, $password] : $password)) {
            throw new RuntimeException('authentication failed');
        }
        return $redis;
    }

    /** "TIME-RANDOM": the time for the fence, the random part so that no generation is ever used twice. */
    private static function new_generation() {
        return time() . '-' . bin2hex(random_bytes(8));
    }

    /** The generation, inserted at random when the row is missing; false without the options table. */
    private function read_generation() {
        $table = self::options_table();
        $select = "SELECT option_value FROM $table WHERE option_name = '" . self::GENERATION_OPTION . "'";
        $generation = self::db('get_var', $select);
        if ($generation === null) {
            $insert = "INSERT IGNORE INTO $table (option_name, option_value, autoload) VALUES ('" . self::GENERATION_OPTION . "', '" . self::new_generation() . "', 'off')";
            // Ours, or that of another instance that came first: read from the writer, where db.php sends every
            // query after a write.
            $generation = self::db('query', $insert) === false ? null : self::db('get_var', $select);
        }
        return is_string($generation) && $generation !== '' ? $generation : false;
    }

    /** Writes a new generation (the row too, if missing); if that fails, the request keeps to its runtime array. */
    private function move_generation_on() {
        $generation = self::new_generation();
        $upsert = 'INSERT INTO ' . self::options_table() . " (option_name, option_value, autoload) VALUES ('"
            . self::GENERATION_OPTION . "', '$generation', 'off') ON DUPLICATE KEY UPDATE option_value = '$generation'";
        $written = self::db('query', $upsert) !== false;
        $this->generation = $written && $this->generation !== false ? $generation : false;
        $this->group_generations = [];
    }

    /** A change that could not reach Redis: the generation moves on, once per request, so that Redis's copy dies. */
    private function changed_offline() {
        $this->moved_on || $this->move_generation_on();
        $this->moved_on = true;
    }

    /** A replace or an incr that found nothing. With Redis down, Redis may hold the key all the same. */
    private function missed($group) {
        $this->persistent($group ?: 'default') && $this->redis === false && $this->changed_offline();
        return false;
    }

    /** The main site's options table: one generation for every blog, since global groups are shared. */
    private static function options_table() {
        return $GLOBALS['wpdb']->base_prefix . 'options';
    }

    /** Runs one query, its errors silenced, and $wpdb's last results kept for the caller whose code we run in. */
    private static function db($method, $sql) {
        $wpdb = $GLOBALS['wpdb'];
        $kept = [$wpdb->insert_id, $wpdb->num_rows, $wpdb->rows_affected, $wpdb->last_result, $wpdb->last_query, $wpdb->last_error];
        $suppressed = $wpdb->suppress_errors(true);
        $result = $wpdb->$method($sql);
        $wpdb->suppress_errors($suppressed);
        [$wpdb->insert_id, $wpdb->num_rows, $wpdb->rows_affected, $wpdb->last_result, $wpdb->last_query, $wpdb->last_error] = $kept;
        return $result;
    }
}
