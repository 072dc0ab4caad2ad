<?php
// cdk-scalable-wordpress: the load balancer's health check. It proves that nginx and PHP-FPM serve, and
// touches no database: a database failover must not make every instance unhealthy at once.
header('Content-Type: text/plain');
header('Cache-Control: no-store');
echo "ok\n";
