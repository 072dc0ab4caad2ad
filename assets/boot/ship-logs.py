#!/usr/bin/python3
"""cdk-scalable-wordpress: ships this instance's logs to CloudWatch Logs.

Debian packages no CloudWatch Logs agent (amazon-cloudwatch-agent is not in Debian, and neither is fluent-bit;
rsyslog and syslog-ng cannot sign AWS requests), so this small service does it with Debian's boto3. Every 5 s it
reads what each file gained since the last call and sends the whole lines with PutLogEvents, to the log group the
stack made for that kind of log, in a stream named INSTANCE_ID/FILE. Offsets survive a restart
(/var/lib/scalable-wordpress/ship-logs.json); a file that shrank or was replaced (logrotate) is read from its
start. A failed call is retried 5 s later with the same lines. It starts early in the boot, so that the reason
of a failed boot reaches CloudWatch Logs.

Usage: ship-logs.py   (systemd; WP_LOG_GROUPS="boot=GROUP nginx-access=GROUP ...", INSTANCE_ID, AWS_DEFAULT_REGION)
"""
import json
import os
import sys
import time

import boto3

FILES = {
    'boot': ['/var/log/cloud-init-output.log'],
    'nginx-access': ['/var/log/nginx/access.log'],
    'nginx-error': ['/var/log/nginx/error.log'],
    'php-fpm': ['/var/log/php8.4-fpm.log', '/var/log/php-fpm/slow.log'],
    'wordpress': ['/var/log/wordpress/php-errors.log'],
}
STATE = '/var/lib/scalable-wordpress/ship-logs.json'
# PutLogEvents takes at most 1 MiB (each event counted with 26 bytes more) and 10,000 events per call.
MAX_BATCH_BYTES = 1_000_000
MAX_EVENTS = 10_000
MAX_EVENT_BYTES = 256 * 1024 - 26


def read_new_lines(path, position):
    """Whole lines added to PATH since POSITION (inode, offset): (lines, new position)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return [], position
    inode, offset = position or (st.st_ino, 0)
    if inode != st.st_ino or st.st_size < offset:
        inode, offset = st.st_ino, 0
    with open(path, 'rb') as f:
        f.seek(offset)
        data = f.read(MAX_BATCH_BYTES)
    end = data.rfind(b'\n') + 1
    if end == 0 and len(data) == MAX_BATCH_BYTES:
        end = len(data)  # one line longer than a batch: send it cut
    lines = [line.decode('utf-8', 'replace')[:MAX_EVENT_BYTES] or ' ' for line in data[:end].split(b'\n')[:-1]]
    return lines, (inode, offset + end)


def main():
    groups = dict(pair.split('=', 1) for pair in os.environ['WP_LOG_GROUPS'].split())
    instance = os.environ['INSTANCE_ID']
    logs = boto3.client('logs')
    try:
        with open(STATE) as f:
            positions = {k: tuple(v) for k, v in json.load(f).items()}
    except (FileNotFoundError, ValueError):
        positions = {}
    streams = set()
    while True:
        for kind, paths in FILES.items():
            if kind not in groups:
                continue
            for path in paths:
                lines, position = read_new_lines(path, positions.get(path))
                if not lines:
                    positions[path] = position
                    continue
                stream = f'{instance}/{os.path.basename(path)}'
                now = int(time.time() * 1000)
                try:
                    if (kind, stream) not in streams:
                        try:
                            logs.create_log_stream(logGroupName=groups[kind], logStreamName=stream)
                        except logs.exceptions.ResourceAlreadyExistsException:
                            pass
                        streams.add((kind, stream))
                    for start in range(0, len(lines), MAX_EVENTS):
                        logs.put_log_events(logGroupName=groups[kind], logStreamName=stream,
                                            logEvents=[{'timestamp': now, 'message': m} for m in lines[start:start + MAX_EVENTS]])
                except Exception as e:  # noqa: BLE001 - any failure: the same lines again in 5 s
                    print(f'ship-logs: {path} to {groups[kind]}: {e}', file=sys.stderr, flush=True)
                    continue
                positions[path] = position
        with open(STATE + '.new', 'w') as f:
            json.dump(positions, f)
        os.replace(STATE + '.new', STATE)
        time.sleep(5)


if __name__ == '__main__':
    main()
