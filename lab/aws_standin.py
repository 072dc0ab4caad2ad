#!/usr/bin/env python3
"""AWS stand-in for the boot lab (stdlib only).

One process, two listeners:
  * IMDSv2 on 169.254.169.254:80 (the instance is identified by the request's source IP);
  * the VPC's DNS resolver on dns_listen (optional, UDP): NXDOMAIN for every name, at once;
  * the AWS APIs on the endpoint_url (e.g. 10.231.0.1:4566): SES v2 SendEmail (REST/JSON, raw messages
    kept in emails.jsonl), CloudWatch Logs CreateLogStream and PutLogEvents (JSON 1.1, events kept in logs.jsonl), CloudFront CreateInvalidation (REST/XML, applied
    to the edge stand-in's cache: config "cloudfront": {"DISTRIBUTION_ID": "CACHE_DIR"}), Secrets Manager (JSON 1.1),
    CloudFormation SignalResource and DescribeStackResource (the registered stacks' resources, with their
    Metadata), AWS Backup StartRestoreJob/DescribeRestoreJob (EFS into an existing file system), EC2
    AttachVolume/DetachVolume/DescribeVolumes, STS
    GetCallerIdentity (query protocol, XML answers as botocore parses them). Signatures are ignored.

Usage:
  aws_standin.py serve --config CONFIG.json
  aws_standin.py release-instance --config CONFIG.json INSTANCE_ID   # volumes of a dead instance -> available
  aws_standin.py set-volume --config CONFIG.json VOL available|in-use [INSTANCE_ID]

CONFIG.json (re-read whenever it changes, so instances can be added while serving):
{
  "imds_listen": "169.254.169.254:80", "api_listen": "10.231.0.1:4566", "dns_listen": "10.231.0.1:53",
  "region": "lab-1", "account_id": "123456789012", "role": "lab-instance-role",
  "instances": {"10.231.0.11": {"instance_id": "i-0000000000000000a", "az": "lab-1a", "user_data": "..."}},
  "secrets": {"arn:aws:secretsmanager:lab-1:123456789012:secret:db-AbCdEf": "{\"password\": \"x\"}"},
  "volumes": {"vol-0123": {"size": 8, "az": "lab-1a"}},           # initial state (state file wins)
  "stacks": {"MyStack": {"LaunchTemplate1": {"type": "AWS::EC2::LaunchTemplate", "metadata": {...}}}},
  "state_file": "work/aws-state.json", "signals_file": "work/signals.jsonl",
  "log_file": "work/aws-requests.jsonl",
  "attach_hook": "/path/to/hook"   # optional: run as HOOK VOLUME_ID INSTANCE_ID DEVICE after AttachVolume
}
"""
import argparse
import datetime as dt
import fcntl
import json
import os
import secrets as rnd
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

CFN_NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
CF_NS = "http://cloudfront.amazonaws.com/doc/2020-05-31/"
QUERY_VERSIONS = {"2010-05-15": "cloudformation", "2016-11-15": "ec2", "2011-06-15": "sts"}


def now_iso(delta=0):
    t = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=delta)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Lab:
    def __init__(self, config_path):
        self.config_path = os.path.abspath(config_path)
        self.base = os.path.dirname(self.config_path)
        self._cfg, self._mtime = {}, None
        self.lock = threading.Lock()
        self.log_streams = set()  # (group, stream) created by CreateLogStream
        self.tokens = {}  # token -> (ip, expiry)

    @property
    def cfg(self):
        m = os.stat(self.config_path).st_mtime_ns
        if m != self._mtime:
            with open(self.config_path) as f:
                self._cfg, self._mtime = json.load(f), m
        return self._cfg

    def path(self, key, default):
        p = self.cfg.get(key, default)
        return p if os.path.isabs(p) else os.path.join(self.base, p)

    # ---- logging / signals ----
    def append_jsonl(self, key, default, record):
        with self.lock, open(self.path(key, default), "a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")

    def log(self, **rec):
        rec["ts"] = now_iso()
        self.append_jsonl("log_file", "aws-requests.jsonl", rec)

    # ---- volume state (shared with the CLI subcommands: flock on a .lock file) ----
    def with_state(self, fn):
        sf = self.path("state_file", "aws-state.json")
        with open(sf + ".lock", "a") as lk:
            fcntl.flock(lk, fcntl.LOCK_EX)
            try:
                with open(sf) as f:
                    st = json.load(f)
            except FileNotFoundError:
                st = {}
            vols = st.setdefault("volumes", {})
            for vid, v in self.cfg.get("volumes", {}).items():
                if vid not in vols:
                    vols[vid] = {"size": v.get("size", 8), "az": v.get("az", self.cfg.get("region", "lab-1") + "a"),
                                 "state": "available", "instance_id": None, "device": None,
                                 "create_time": now_iso()}
            result = fn(st)
            tmp = sf + ".tmp"
            with open(tmp, "w") as f:
                json.dump(st, f, indent=1, sort_keys=True)
            os.replace(tmp, sf)
            return result

    def instance_by_ip(self, ip):
        return self.cfg.get("instances", {}).get(ip)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lab-aws-standin"
    lab: Lab = None
    kind = "api"

    def log_message(self, fmt, *args):  # quiet stderr; everything goes to the JSONL log
        pass

    def reply(self, status, body, ctype="text/plain", extra=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self._status = status

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        self._status, self._info = None, {}
        try:
            if self.kind == "imds":
                self.imds()
            else:
                self.api()
        except Exception as e:  # never kill the server
            self._info["exception"] = repr(e)
            if self._status is None:
                self.reply(500, "internal error: %r" % e)
        self.lab.log(listener=self.kind, src=self.client_address[0], method=self.command,
                     path=self.path, status=self._status, **self._info)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_any

    # ------------------------------------------------------------------ IMDSv2
    def imds(self):
        lab, ip = self.lab, self.client_address[0]
        path = urlsplit(self.path).path
        self.body()
        if self.command == "PUT" and path == "/latest/api/token":
            if self.headers.get("X-Forwarded-For"):
                return self.reply(403, "Forbidden")
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            if not ttl or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return self.reply(400, "Bad Request")
            tok = rnd.token_urlsafe(40)
            with lab.lock:
                lab.tokens[tok] = (ip, time.time() + int(ttl))
            return self.reply(200, tok, extra={"X-aws-ec2-metadata-token-ttl-seconds": ttl})
        if self.command not in ("GET", "HEAD"):
            return self.reply(405, "Method Not Allowed")
        tok = self.headers.get("X-aws-ec2-metadata-token")
        with lab.lock:
            t = lab.tokens.get(tok) if tok else None
        if not t or t[0] != ip or t[1] < time.time():
            return self.reply(401, "Unauthorized")
        inst = lab.instance_by_ip(ip)
        if inst is None:
            return self.reply(404, "Not Found (no instance registered for %s)" % ip)
        cfg = lab.cfg
        region = cfg.get("region", "lab-1")
        az = inst.get("az", region + "a")
        role = inst.get("role", cfg.get("role", "lab-instance-role"))
        iid = inst["instance_id"]
        md = {
            "ami-id": inst.get("ami_id", "ami-0123456789abcdef0"),
            "hostname": "ip-%s.lab.internal" % ip.replace(".", "-"),
            "local-hostname": "ip-%s.lab.internal" % ip.replace(".", "-"),
            "instance-id": iid,
            "instance-type": inst.get("instance_type", "m5.large"),
            "local-ipv4": ip,
            "mac": inst.get("mac", "02:00:00:00:00:%02x" % (int(ip.split(".")[-1]) % 256)),
            "placement/availability-zone": az,
            "placement/region": region,
            "iam/security-credentials/": role,
            "iam/info": json.dumps({"Code": "Success", "LastUpdated": now_iso(),
                                    "InstanceProfileArn": "arn:aws:iam::%s:instance-profile/%s"
                                    % (cfg.get("account_id", "123456789012"), role),
                                    "InstanceProfileId": "AIPALAB"}),
        }
        p = path.rstrip("/") if path.endswith("/") and path != "/latest/meta-data/iam/security-credentials/" else path
        if p in ("/latest/meta-data", "/latest/meta-data/"):
            return self.reply(200, "ami-id\nhostname\niam/\ninstance-id\ninstance-type\nlocal-hostname\n"
                                   "local-ipv4\nmac\nplacement/\n")
        if p == "/latest/meta-data/placement":
            return self.reply(200, "availability-zone\nregion\n")
        if p == "/latest/meta-data/iam":
            return self.reply(200, "info\nsecurity-credentials/\n")
        if p.startswith("/latest/meta-data/"):
            key = p[len("/latest/meta-data/"):]
            if key in md:
                return self.reply(200, md[key])
            if key == "iam/security-credentials/%s" % role:
                creds = {"Code": "Success", "LastUpdated": now_iso(), "Type": "AWS-HMAC",
                         "AccessKeyId": "ASIALAB" + iid[-10:].upper().replace("-", "0"),
                         "SecretAccessKey": "labsecret" + iid, "Token": "labtoken-" + iid,
                         "Expiration": now_iso(6 * 3600)}
                return self.reply(200, json.dumps(creds, indent=2))
            return self.reply(404, "Not Found")
        if p == "/latest/dynamic/instance-identity/document":
            doc = {"accountId": cfg.get("account_id", "123456789012"), "architecture": "x86_64",
                   "availabilityZone": az, "imageId": md["ami-id"], "instanceId": iid,
                   "instanceType": md["instance-type"], "privateIp": ip, "region": region,
                   "pendingTime": now_iso(), "version": "2017-09-30"}
            return self.reply(200, json.dumps(doc, indent=2), "application/json")
        if p == "/latest/user-data" and "user_data" in inst:
            return self.reply(200, inst["user_data"])
        return self.reply(404, "Not Found")

    # ------------------------------------------------------------------ AWS APIs
    def api(self):
        raw = self.body()
        target = self.headers.get("X-Amz-Target", "")
        auth = self.headers.get("Authorization", "")
        svc = ""
        if "Credential=" in auth:  # Credential=AKID/date/region/service/aws4_request
            parts = auth.split("Credential=", 1)[1].split(",")[0].split("/")
            svc = parts[3] if len(parts) > 3 else ""
        if self.command == "POST" and urlsplit(self.path).path.startswith("/2020-05-31/distribution/"):
            self._info.update(service="cloudfront", action="CreateInvalidation")
            return self.cloudfront_invalidation(raw)
        if self.command == "POST" and urlsplit(self.path).path == "/v2/email/outbound-emails":
            self._info.update(service="ses", action="SendEmail")
            return self.ses_send_email(json.loads(raw or b"{}"))
        if urlsplit(self.path).path.startswith("/restore-jobs"):
            return self.backup_restore(json.loads(raw or b"{}"))
        if target:
            self._info.update(service=svc or target.split(".")[0], target=target)
            return self.json_api(target, json.loads(raw or b"{}"))
        form = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
        if not form and "?" in self.path:
            form = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        action = form.get("Action", "")
        svc = svc or QUERY_VERSIONS.get(form.get("Version", ""), "")
        self._info.update(service=svc, action=action)
        if svc == "cloudformation":
            return self.cfn(action, form)
        if svc == "ec2":
            return self.ec2(action, form)
        if svc == "sts" and action == "GetCallerIdentity":
            inst = self.lab.instance_by_ip(self.client_address[0]) or {}
            acct = self.lab.cfg.get("account_id", "123456789012")
            arn = "arn:aws:sts::%s:assumed-role/%s/%s" % (acct, self.lab.cfg.get("role", "lab-instance-role"),
                                                          inst.get("instance_id", "lab"))
            return self.xml(200, "GetCallerIdentityResponse", STS_NS,
                            "<GetCallerIdentityResult><Arn>%s</Arn><UserId>AROALAB:%s</UserId><Account>%s</Account>"
                            "</GetCallerIdentityResult>" % (arn, inst.get("instance_id", "lab"), acct),
                            meta=True)
        return self.query_error(svc, "InvalidAction", "The lab stand-in does not implement %s %s" % (svc, action))

    # AWS Backup StartRestoreJob (PUT /restore-jobs) and DescribeRestoreJob (GET /restore-jobs/ID), for EFS into an
    # existing file system: the recovery point's directory (config "recovery_points": {ARN: DIR}) is copied into
    # aws-backup-restore_DATETIME at the root of the file system's directory (config "file_systems": {ID: DIR}), as
    # AWS Backup restores. A job reports RUNNING once, then COMPLETED, so that the caller has to wait.
    def backup_restore(self, req):
        if self.command == "PUT":
            self._info.update(service="backup", action="StartRestoreJob")
            meta = req.get("Metadata", {})
            source = self.lab.cfg.get("recovery_points", {}).get(req.get("RecoveryPointArn", ""))
            target = self.lab.cfg.get("file_systems", {}).get(meta.get("file-system-id", ""))
            if not source:
                return self.json_error("ResourceNotFoundException", "No recovery point %s" % req.get("RecoveryPointArn"), 404)
            if not target or meta.get("newFileSystem") != "false" or req.get("ResourceType") != "EFS" or not req.get("IamRoleArn"):
                return self.json_error("InvalidParameterValueException",
                                       "The lab restores EFS into an existing file system only: %s" % json.dumps(req))
            job = uuid.uuid4().hex.upper()
            restored = os.path.join(target, "aws-backup-restore_" + dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H-%M-%S"))
            shutil.copytree(source, restored, symlinks=True, dirs_exist_ok=True)
            self.lab.with_state(lambda st: st.setdefault("restore_jobs", {}).update({job: {"describes": 0, "target": restored}}))
            self._info["restore_job"] = job
            return self.reply(200, json.dumps({"RestoreJobId": job}), "application/json")
        job = urlsplit(self.path).path.rsplit("/", 1)[-1]
        self._info.update(service="backup", action="DescribeRestoreJob", restore_job=job)

        def describe(st):
            j = st.get("restore_jobs", {}).get(job)
            if j is not None:
                j["describes"] += 1
            return j
        j = self.lab.with_state(describe)
        if j is None:
            return self.json_error("ResourceNotFoundException", "No restore job %s" % job, 404)
        status = "RUNNING" if j["describes"] == 1 else "COMPLETED"
        return self.reply(200, json.dumps({"RestoreJobId": job, "Status": status}), "application/json")

    def ses_send_email(self, req):
        """SES v2 SendEmail (REST/JSON) with a raw message, as awscli v2 sends it: the message is kept, decoded, in
        emails.jsonl (nothing is delivered). Like SES, it refuses a message without a From address or recipients."""
        import base64
        from email import message_from_bytes, policy
        try:
            data = base64.b64decode(req["Content"]["Raw"]["Data"])
        except (KeyError, TypeError, ValueError):
            return self.ses_error("BadRequestException", "The lab stand-in takes raw messages only")
        message = message_from_bytes(data, policy=policy.default)
        sender = req.get("FromEmailAddress") or message.get("From", "")
        recipients = [a for h in ("To", "Cc", "Bcc") for a in message.get_all(h, [])]
        if not sender or not recipients:
            return self.ses_error("BadRequestException", "Missing From address or recipients")
        body = message.get_body(preferencelist=("plain", "html"))
        message_id = "0100lab-" + uuid.uuid4().hex
        self.lab.append_jsonl("emails_file", "emails.jsonl", {
            "id": message_id, "from": sender, "to": recipients, "subject": message.get("Subject", ""),
            "body": body.get_content() if body else "", "ts": now_iso()})
        return self.reply(200, json.dumps({"MessageId": message_id}), "application/json")

    def ses_error(self, code, msg):
        self._info["error"] = code
        return self.reply(400, json.dumps({"message": msg}), "application/json", {"x-amzn-ErrorType": code})

    def cloudfront_invalidation(self, raw):
        """CreateInvalidation as awscli v2 sends it; the paths are applied to the edge stand-in's cache at once."""
        import xml.etree.ElementTree as ET
        parts = urlsplit(self.path).path.split("/")  # ['', '2020-05-31', 'distribution', ID, 'invalidation']
        dist = parts[3] if len(parts) == 5 and parts[4] == "invalidation" else ""
        cache = self.lab.cfg.get("cloudfront", {}).get(dist)
        if cache is None:
            self._info["error"] = "NoSuchDistribution"
            return self.reply(404, '<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>NoSuchDistribution</Code>'
                              '<Message>The specified distribution does not exist.</Message></Error></ErrorResponse>' % CF_NS, "text/xml")
        doc = ET.fromstring(raw)
        ns = {"c": CF_NS}
        paths = [p.text for p in doc.findall("./c:Paths/c:Items/c:Path", ns)]
        ref = doc.findtext("./c:CallerReference", "", ns)
        purged = 0
        for dirpath, _, files in os.walk(cache):
            for name in files:
                file = os.path.join(dirpath, name)
                try:
                    with open(file, "rb") as f:
                        head = f.read(8192)
                except OSError:
                    continue
                i = head.find(b"\nKEY: ")
                if i < 0:
                    continue
                key = head[i + 6:head.find(b"\n", i + 6)].decode("latin-1")
                uri = key.split(" |", 1)[0]
                if any(uri.startswith(p[:-1]) if p.endswith("*") else uri == p for p in paths):
                    os.unlink(file)
                    purged += 1
        iid = "I" + uuid.uuid4().hex[:13].upper()
        self._info.update(distribution=dist, paths=paths, caller_reference=ref, purged=purged)
        self.lab.append_jsonl("invalidations_file", "invalidations.jsonl",
                              {"id": iid, "distribution": dist, "paths": paths, "caller_reference": ref,
                               "purged": purged, "ts": now_iso()})
        items = "".join("<Path>%s</Path>" % escape(p) for p in paths)
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Invalidation xmlns="%s"><Id>%s</Id><Status>InProgress</Status>'
                '<CreateTime>%s</CreateTime><InvalidationBatch><Paths><Quantity>%d</Quantity><Items>%s</Items></Paths>'
                '<CallerReference>%s</CallerReference></InvalidationBatch></Invalidation>'
                % (CF_NS, iid, now_iso(), len(paths), items, escape(ref)))
        return self.reply(201, body, "text/xml", {"Location": "https://cloudfront.amazonaws.com/2020-05-31/distribution/%s/invalidation/%s" % (dist, iid)})

    def xml(self, status, name, ns, inner, meta=False, ec2=False):
        rid = str(uuid.uuid4())
        if ec2:
            body = '<?xml version="1.0" encoding="UTF-8"?>\n<%s xmlns="%s"><requestId>%s</requestId>%s</%s>' % (
                name, ns, rid, inner, name)
        else:
            body = ('<%s xmlns="%s">%s<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%s>'
                    % (name, ns, inner, rid, name))
        return self.reply(status, body, "text/xml")

    def query_error(self, svc, code, msg, status=400):
        self._info["error"] = code
        rid = str(uuid.uuid4())
        if svc == "ec2":
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>%s</Code>'
                    '<Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>'
                    % (code, escape(msg), rid))
        else:
            ns = CFN_NS if svc == "cloudformation" else STS_NS
            body = ('<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message>'
                    '</Error><RequestId>%s</RequestId></ErrorResponse>' % (ns, code, escape(msg), rid))
        return self.reply(status, body, "text/xml")

    def json_error(self, code, msg, status=400):
        self._info["error"] = code
        return self.reply(status, json.dumps({"__type": code, "message": msg, "Message": msg}),
                          "application/x-amz-json-1.1")

    # Secrets Manager
    def json_api(self, target, req):
        if target == "secretsmanager.GetSecretValue":
            sid = req.get("SecretId", "")
            self._info["secret_id"] = sid
            for arn, val in self.lab.cfg.get("secrets", {}).items():
                name = val.get("Name") if isinstance(val, dict) and "SecretString" in val else None
                name = name or arn.split(":secret:", 1)[-1]
                base = name.rsplit("-", 1)[0] if len(name.rsplit("-", 1)[-1]) == 6 else name
                if sid in (arn, name, base) or (sid.startswith("arn:") and arn.startswith(sid + "-")):
                    # value: a string (the SecretString), {"SecretString": str, "Name": ...}, or any JSON
                    s = val.get("SecretString", val) if isinstance(val, dict) else val
                    if not isinstance(s, str):
                        s = json.dumps(s)
                    return self.reply(200, json.dumps({
                        "ARN": arn, "Name": name, "SecretString": s,
                        "VersionId": str(uuid.uuid5(uuid.NAMESPACE_URL, arn + s)),
                        "VersionStages": ["AWSCURRENT"], "CreatedDate": time.time()}),
                        "application/x-amz-json-1.1")
            return self.json_error("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
        if target in ("Logs_20140328.CreateLogStream", "Logs_20140328.PutLogEvents"):
            return self.logs_api(target.split(".")[1], req)
        return self.json_error("UnknownOperationException", "The lab stand-in does not implement %s" % target)

    # CloudWatch Logs: streams are created once (a second CreateLogStream is refused, as CloudWatch Logs does),
    # events go to logs.jsonl; a PutLogEvents to a stream never created is refused.
    def logs_api(self, action, req):
        group, stream = req.get("logGroupName", ""), req.get("logStreamName", "")
        self._info.update(log_group=group, log_stream=stream)
        with self.lab.lock:
            streams = self.lab.log_streams
            if action == "CreateLogStream":
                if (group, stream) in streams:
                    return self.json_error("ResourceAlreadyExistsException", "The specified log stream already exists")
                streams.add((group, stream))
                return self.reply(200, "{}", "application/x-amz-json-1.1")
            if (group, stream) not in streams:
                return self.json_error("ResourceNotFoundException", "The specified log stream does not exist.")
        events = req.get("logEvents", [])
        if not events or len(events) > 10000:
            return self.json_error("InvalidParameterException", "1 to 10000 log events per call")
        for event in events:
            self.lab.append_jsonl("logs_file", "logs.jsonl", {"group": group, "stream": stream,
                                                               "timestamp": event["timestamp"], "message": event["message"]})
        return self.reply(200, json.dumps({"nextSequenceToken": str(time.time_ns())}), "application/x-amz-json-1.1")

    # CloudFormation
    def cfn(self, action, form):
        if action == "SignalResource":
            missing = [k for k in ("StackName", "LogicalResourceId", "UniqueId", "Status") if not form.get(k)]
            if missing or form["Status"] not in ("SUCCESS", "FAILURE"):
                return self.query_error("cloudformation", "ValidationError", "bad SignalResource: %s" % form)
            rec = {k: form[k] for k in ("StackName", "LogicalResourceId", "UniqueId", "Status")}
            rec.update(ts=now_iso(), src=self.client_address[0])
            self.lab.append_jsonl("signals_file", "signals.jsonl", rec)
            self._info["signal"] = rec
            return self.xml(200, "SignalResourceResponse", CFN_NS, "")
        if action == "DescribeStackResource":
            return self.describe_stack_resource(form)
        return self.query_error("cloudformation", "InvalidAction", "not implemented: %s" % action)

    def describe_stack_resource(self, form):
        """As CloudFormation answers it: the stack by name or stack ID, Metadata as a JSON string."""
        stack, logical_id = form.get("StackName", ""), form.get("LogicalResourceId", "")
        self._info.update(stack=stack, logical_id=logical_id)
        if not stack or not logical_id:
            return self.query_error("cloudformation", "ValidationError",
                                    "1 validation error detected: StackName and LogicalResourceId are required")
        region, acct = self.lab.cfg.get("region", "lab-1"), self.lab.cfg.get("account_id", "123456789012")
        stacks = self.lab.cfg.get("stacks", {})
        name = stack.split(":stack/", 1)[1].split("/")[0] if ":stack/" in stack else stack
        if name not in stacks:
            return self.query_error("cloudformation", "ValidationError", "Stack '%s' does not exist" % stack)
        resource = stacks[name].get(logical_id)
        if resource is None:
            return self.query_error("cloudformation", "ValidationError",
                                    "Resource %s does not exist for stack %s" % (logical_id, stack))
        stack_id = "arn:aws:cloudformation:%s:%s:stack/%s/%s" % (
            region, acct, name, uuid.uuid5(uuid.NAMESPACE_URL, name))
        metadata = resource.get("metadata")
        inner = ("<DescribeStackResourceResult><StackResourceDetail>"
                 "<StackId>%s</StackId><StackName>%s</StackName><LogicalResourceId>%s</LogicalResourceId>"
                 "<PhysicalResourceId>%s</PhysicalResourceId><ResourceType>%s</ResourceType>"
                 "<LastUpdatedTimestamp>%s</LastUpdatedTimestamp><ResourceStatus>CREATE_COMPLETE</ResourceStatus>"
                 "%s<DriftInformation><StackResourceDriftStatus>NOT_CHECKED</StackResourceDriftStatus>"
                 "</DriftInformation></StackResourceDetail></DescribeStackResourceResult>"
                 % (escape(stack_id), escape(name), escape(logical_id),
                    escape(resource.get("physical_id", "lt-0" + uuid.uuid5(uuid.NAMESPACE_URL, name + logical_id).hex[:16])),
                    escape(resource.get("type", "")), resource.get("updated", now_iso()),
                    "" if metadata is None else "<Metadata>%s</Metadata>" % escape(json.dumps(metadata))))
        return self.xml(200, "DescribeStackResourceResponse", CFN_NS, inner)

    # EC2
    def ec2(self, action, form):
        src_inst = self.lab.instance_by_ip(self.client_address[0]) or {}
        if action == "AttachVolume":
            vid, iid, dev = form.get("VolumeId"), form.get("InstanceId"), form.get("Device")
            self._info.update(volume=vid, instance=iid, device=dev)

            def attach(st):
                v = st["volumes"].get(vid)
                if v is None:
                    return ("InvalidVolume.NotFound", "The volume '%s' does not exist." % vid)
                if v["state"] != "available":
                    return ("IncorrectState", "vol '%s' is already attached to an instance (%s)."
                            % (vid, v.get("instance_id")))
                v.update(state="in-use", instance_id=iid, device=dev, attach_time=now_iso())
                return None
            err = self.lab.with_state(attach)
            if err:
                return self.query_error("ec2", *err)
            hook = self.lab.cfg.get("attach_hook")
            if hook:
                r = subprocess.run([hook, vid, iid, dev or ""], capture_output=True, text=True, timeout=30)
                self._info["hook_rc"] = r.returncode
                if r.returncode:
                    self._info["hook_err"] = r.stderr[-500:]
            return self.xml(200, "AttachVolumeResponse", EC2_NS,
                            "<volumeId>%s</volumeId><instanceId>%s</instanceId><device>%s</device>"
                            "<status>attaching</status><attachTime>%s</attachTime>"
                            % (escape(vid), escape(iid or ""), escape(dev or ""), now_iso()), ec2=True)
        if action == "DetachVolume":
            vid = form.get("VolumeId")
            self._info.update(volume=vid)

            def detach(st):
                v = st["volumes"].get(vid)
                if v is None:
                    return ("InvalidVolume.NotFound", "The volume '%s' does not exist." % vid), None
                if v["state"] != "in-use":
                    return ("IncorrectState", "Volume '%s' is in the 'available' state." % vid), None
                old = dict(v)
                v.update(state="available", instance_id=None, device=None)
                return None, old
            err, old = self.lab.with_state(detach)
            if err:
                return self.query_error("ec2", *err)
            return self.xml(200, "DetachVolumeResponse", EC2_NS,
                            "<volumeId>%s</volumeId><instanceId>%s</instanceId><device>%s</device>"
                            "<status>detaching</status><attachTime>%s</attachTime>"
                            % (vid, old.get("instance_id") or "", old.get("device") or "",
                               old.get("attach_time", now_iso())), ec2=True)
        if action == "DescribeVolumes":
            ids = [v for k, v in sorted(form.items()) if k.startswith("VolumeId.")]
            filters = {}
            for k, v in form.items():
                if k.startswith("Filter.") and k.endswith(".Name"):
                    n = k.split(".")[1]
                    filters[v] = [fv for fk, fv in form.items() if fk.startswith("Filter.%s.Value." % n)]
            st = self.lab.with_state(lambda s: json.loads(json.dumps(s)))
            items = []
            for vid, v in sorted(st["volumes"].items()):
                if ids and vid not in ids:
                    continue
                fmap = {"volume-id": vid, "status": v["state"], "availability-zone": v["az"],
                        "attachment.instance-id": v.get("instance_id") or "",
                        "attachment.status": "attached" if v["state"] == "in-use" else ""}
                if any(fmap.get(fn, None) not in fvals for fn, fvals in filters.items()):
                    continue
                att = ""
                if v["state"] == "in-use":
                    att = ("<item><volumeId>%s</volumeId><instanceId>%s</instanceId><device>%s</device>"
                           "<status>attached</status><attachTime>%s</attachTime>"
                           "<deleteOnTermination>false</deleteOnTermination></item>"
                           % (vid, v["instance_id"], v.get("device") or "", v.get("attach_time", now_iso())))
                items.append("<item><volumeId>%s</volumeId><size>%s</size><snapshotId/>"
                             "<availabilityZone>%s</availabilityZone><status>%s</status><createTime>%s</createTime>"
                             "<attachmentSet>%s</attachmentSet><volumeType>gp3</volumeType><iops>3000</iops>"
                             "<encrypted>true</encrypted><multiAttachEnabled>false</multiAttachEnabled></item>"
                             % (vid, v["size"], v["az"], v["state"], v.get("create_time", now_iso()), att))
            missing = [i for i in ids if i not in st["volumes"]]
            if missing:
                return self.query_error("ec2", "InvalidVolume.NotFound",
                                        "The volume '%s' does not exist." % missing[0])
            return self.xml(200, "DescribeVolumesResponse", EC2_NS,
                            "<volumeSet>%s</volumeSet>" % "".join(items), ec2=True)
        _ = src_inst
        return self.query_error("ec2", "InvalidAction", "The lab stand-in does not implement ec2 %s" % action)


def answer_nxdomain(listen):
    """The VPC's DNS resolver, for names outside the lab: none exists (the lab's own are in /etc/hosts).

    An answer at once, as a resolver without internet access would give: with no server at all, each lookup
    (WordPress asks for api.wordpress.org on admin pages) waits for its timeout and skews every timing.
    """
    host, port = listen.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, int(port)))

    def loop():
        while True:
            query, peer = sock.recvfrom(512)
            end = 12  # the question: the name's labels, a zero byte, type and class
            while end < len(query) and query[end]:
                end += 1 + query[end]
            if len(query) < end + 5:
                continue
            # The query's ID and question; QR, its RD, RA, RCODE 3 (NXDOMAIN); no answer, authority or extra.
            flags = bytes([0x80 | (query[2] & 0x01), 0x83])
            sock.sendto(query[:2] + flags + b"\x00\x01" + bytes(6) + query[12:end + 5], peer)
    threading.Thread(target=loop, daemon=True).start()


def serve(lab):
    cfg = lab.cfg
    servers = []
    if cfg.get("dns_listen"):
        answer_nxdomain(cfg["dns_listen"])
    for kind, key, default in (("imds", "imds_listen", "169.254.169.254:80"),
                               ("api", "api_listen", "10.231.0.1:4566")):
        host, port = cfg.get(key, default).rsplit(":", 1)
        h = type("H_" + kind, (Handler,), {"lab": lab, "kind": kind})
        srv = ThreadingHTTPServer((host, int(port)), h)
        srv.daemon_threads = True
        servers.append(srv)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("aws-standin: listening imds=%s api=%s" % (cfg.get("imds_listen", "169.254.169.254:80"),
                                                     cfg.get("api_listen", "10.231.0.1:4566")), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["serve", "release-instance", "set-volume"])
    ap.add_argument("--config", required=True)
    ap.add_argument("args", nargs="*")
    a = ap.parse_intermixed_args()
    lab = Lab(a.config)
    if a.cmd == "serve":
        return serve(lab)
    if a.cmd == "release-instance":
        def rel(st):
            n = 0
            for v in st["volumes"].values():
                if v.get("instance_id") == a.args[0]:
                    v.update(state="available", instance_id=None, device=None)
                    n += 1
            return n
        print(lab.with_state(rel))
    elif a.cmd == "set-volume":
        vid, state = a.args[0], a.args[1]
        iid = a.args[2] if len(a.args) > 2 else None

        def setv(st):
            if vid not in st["volumes"]:
                sys.exit("no such volume %s" % vid)
            st["volumes"][vid].update(state=state, instance_id=iid if state == "in-use" else None,
                                      device=st["volumes"][vid].get("device") if state == "in-use" else None)
        lab.with_state(setv)


if __name__ == "__main__":
    sys.exit(main())
