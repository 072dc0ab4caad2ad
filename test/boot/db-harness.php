<?php
// Runs the db.php drop-in against a stand-in for WordPress's wpdb that records which connection each
// query used. Input: a JSON file (argv[1]) with sapi, server, cookies, queries, and reader: up|down|dies.
$input = json_decode(file_get_contents($argv[1]), true);
define('ABSPATH', '/');
define('DB_USER', 'u');
define('DB_PASSWORD', 'p');
define('DB_NAME', 'd');
define('DB_HOST', 'writer:3306');
define('SCALABLE_WP_DB_READER_HOST', 'reader:3306');

class wpdb {
    protected $dbh;
    protected $dbuser;
    protected $dbpassword;
    protected $dbname;
    public $ready = false;
    public $charset;
    public $is_mysql = null;
    public $log = [];
    /** @var string[] The connections made, in order. */
    public $connections = [];

    public function init_charset() {
    }

    public function __construct($user, $password, $name, $host) {
        [$this->dbuser, $this->dbpassword, $this->dbname] = [$user, $password, $name];
        $this->db_connect();
    }

    public function db_connect($allow_bail = true) {
        $this->dbh = 'writer';
        $this->connections[] = 'writer';
        return true;
    }

    public function query($query) {
        global $input;
        if ($this->dbh === 'reader' && $input['reader'] === 'dies') {
            $this->db_connect(false); // what wpdb does when it loses the connection
        }
        $this->log[] = "$this->dbh: $query";
        return 1;
    }
}

$_SERVER = $input['server'];
$_COOKIE = $input['cookies'];
require $input['dropIn'];

class Harness extends Scalable_WordPress_DB {
    protected function connect_reader() {
        global $input;
        if ($this->reader_dbh === null) {
            $this->connections[] = 'reader';
            $this->reader_dbh = $input['reader'] === 'down' ? false : 'reader';
        }
        return $this->reader_dbh ?: null;
    }

    protected function sapi() {
        global $input;
        return $input['sapi'];
    }
}

$db = new Harness(DB_USER, DB_PASSWORD, DB_NAME, DB_HOST);
foreach ($input['queries'] as $query) {
    $db->query($query);
}
echo json_encode(['log' => $db->log, 'connections' => $db->connections, 'readerAnswered' => $db->scalable_wordpress_reader_answered, 'reads' => array_map(fn ($q) => Scalable_WordPress_DB::is_read($q), $input['queries'])]);
