<?php
/**
 * cdk-scalable-wordpress: sends WordPress's mail through Amazon SES with the instance's role.
 *
 * One file, two roles:
 * - In WordPress (boot.sh installs it as wp-content/mu-plugins/scalable-wordpress-mail.php): wp_mail() builds
 *   the message with its own PHPMailer as always, sent from SCALABLE_WP_MAIL_FROM, and hands it to this file's
 *   `sendmail` role (PHPMailer's sendmail transport), which drops it in a spool directory. A page never waits
 *   for SES, and no mail server runs on the instance.
 * - As a service on every instance (`php mail.php serve`, systemd, as www-data): it sends each spooled message
 *   as it arrives with `aws sesv2 send-email` (a raw message: SES takes the recipients from its To, Cc and Bcc
 *   headers), from WP_MAIL_FROM, the one address the instance's role may send from. A refused or failed send is
 *   retried for a day, then the message is moved aside and the reason logged (journalctl -u scalable-wordpress-mail).
 */
const SWP_SPOOL = '/var/spool/scalable-wordpress-mail';

if (defined('ABSPATH')) {
    if (defined('SCALABLE_WP_MAIL_FROM')) {
        add_filter('wp_mail_from', fn () => SCALABLE_WP_MAIL_FROM);
        add_action('phpmailer_init', function ($mailer) {
            $mailer->isSendmail();
            $mailer->Sendmail = '/usr/bin/php ' . __FILE__ . ' sendmail';
        });
        // Why a message could not be handed over, in PHP's error log (PHP-FPM's, in the journal).
        add_action('wp_mail_failed', fn ($error) => error_log('scalable-wordpress mail: ' . $error->get_error_message()));
    }
    return;
}

// `sendmail`: the message on stdin into the spool, whole or not at all (written aside, then renamed).
if (($argv[1] ?? '') === 'sendmail') {
    $tmp = tempnam(SWP_SPOOL, '.in-');
    $ok = $tmp && stream_copy_to_stream(STDIN, $out = fopen($tmp, 'w')) !== false && fclose($out);
    exit($ok && rename($tmp, SWP_SPOOL . '/' . hrtime(true) . '-' . getmypid() . '.eml') ? 0 : 75);
}

if (($argv[1] ?? '') === 'serve') {
    $tries = [];
    while (true) {
        foreach (glob(SWP_SPOOL . '/*.eml') as $file) {
            if (time() < ($tries[$file]['next'] ?? 0)) {
                continue;
            }
            $body = tempnam(sys_get_temp_dir(), 'ses-');
            file_put_contents($body, json_encode(['Raw' => ['Data' => base64_encode(file_get_contents($file))]]));
            exec('aws sesv2 send-email --output text --query MessageId --from-email-address ' . escapeshellarg(getenv('WP_MAIL_FROM'))
                . ' --content ' . escapeshellarg("file://$body") . ' 2>&1', $out, $rc);
            unlink($body);
            $said = implode(' ', array_splice($out, 0));
            if ($rc === 0) {
                echo 'mail.php: sent ' . basename($file) . " as $said\n";
                unlink($file);
                unset($tries[$file]);
                continue;
            }
            $n = ($tries[$file]['n'] ?? 0) + 1;
            $first = $tries[$file]['first'] ?? time();
            if (time() - $first > 86400) {
                rename($file, "$file.failed");
                unset($tries[$file]);
                echo 'mail.php: gave up on ' . basename($file) . " after $n tries: $said\n";
                continue;
            }
            // 10 s, 20 s, 40 s... up to 10 minutes between tries.
            $tries[$file] = ['n' => $n, 'first' => $first, 'next' => time() + min(600, 10 * 2 ** ($n - 1))];
            echo 'mail.php: could not send ' . basename($file) . " (try $n): $said\n";
        }
        sleep(1);
    }
}
