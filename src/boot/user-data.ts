import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Token } from 'aws-cdk-lib';
import { ArchiveEntry, deterministicTarGz } from './archive';

/** Where the boot script finds what the stack tells it. */
const SITE_ENV_FILE = '/etc/scalable-wordpress/site.env';
/** Where the user data unpacks the boot files (assets/boot in the package). */
const BOOT_DIR = '/usr/local/lib/scalable-wordpress';
/**
 * The key of the boot files in their resource's CloudFormation metadata. They travel there, as cfn-init's
 * configuration does, because EC2 keeps only 16 KiB of user data and a template holds 1 MB.
 */
export const BOOT_METADATA_KEY = 'ScalableWordPress::Boot';
/** The boot files, beside the compiled code in the package. */
const ASSETS_DIR = path.join(__dirname, '..', '..', 'assets', 'boot');

/**
 * Everything an instance needs to know to boot into the site. No secret value is here: only the
 * ARNs of the secrets, which the instance reads through its role.
 */
export interface BootInputs {
  readonly region: string;
  readonly stackName: string;
  /** Logical ID of the resource whose metadata holds the boot archive (the launch template). */
  readonly bootResource: string;
  /** The SHA-256 of that archive (`bootArchive().sha256`). */
  readonly bootSha256: string;
  /** Logical ID of the Auto Scaling group, for `cloudformation signal-resource`. */
  readonly signalResource: string;
  readonly siteUrl: string;
  readonly siteTitle: string;
  readonly healthCheckPath: string;
  readonly dbEngine: string;
  readonly dbSecretArn: string;
  readonly dbWriterHost: string;
  readonly dbReaderHost?: string;
  readonly dbPort: string;
  readonly dbName: string;
  /** Where the instance downloads the CA bundle that signs the database's certificate. */
  readonly dbCaBundleUrl: string;
  readonly saltsSecretArn: string;
  readonly adminSecretArn: string;
  readonly media: string;
  readonly fileSystemId?: string;
  /** The file system's DNS name, which the TLS tunnel connects to. */
  readonly fileSystemDnsName?: string;
  readonly volumeId?: string;
  /** How long nginx keeps a page rendered for an anonymous visitor; 0 turns the page cache off. */
  readonly pageCacheSeconds: number;
  /** What is in front of the load balancer: `cloudfront`, or `load-balancer` for nothing. */
  readonly edge: string;
  /** The CloudFront distribution the instances purge when content changes. */
  readonly distributionId?: string;
  /** WordPress's COOKIEHASH: fixed, because the edge's cache key names the cookies. */
  readonly cookieHash: string;
  /** The object cache's endpoint and the secret of its user; absent when the site has no object cache. */
  readonly cacheHost?: string;
  readonly cachePort?: string;
  readonly cacheSecretArn?: string;
  /** The address WordPress sends its mail from through SES; empty when the site sends no mail. */
  readonly mailFrom?: string;
  /** The AWS Backup recovery point the first boot restores the EFS media from, and the role to restore with. */
  readonly mediaRecoveryPoint?: string;
  readonly mediaRestoreRoleArn?: string;
  /** The log groups the instances ship their logs to, as `KIND=NAME ...`. */
  readonly logGroups?: string;
}

/**
 * The user data of every instance, after its shebang: it writes the stack's inputs to SITE_ENV_FILE, installs
 * the AWS CLI, fetches the boot files from the metadata of `bootResource` (DescribeStackResource, as cfn-init
 * does), checks them against the SHA-256 written here, unpacks them and runs the boot script. The hash ties each
 * launch template version to its boot files: a changed boot file changes the user data, which rolls the instances.
 * The boot files are the same for every site; only the inputs differ.
 */
export function bootCommands(inputs: BootInputs): string[] {
  const env: Record<string, string | undefined> = {
    WP_REGION: inputs.region,
    WP_STACK_NAME: inputs.stackName,
    WP_BOOT_RESOURCE: inputs.bootResource,
    WP_BOOT_SHA256: inputs.bootSha256,
    WP_SIGNAL_RESOURCE: inputs.signalResource,
    WP_SITE_URL: inputs.siteUrl,
    WP_SITE_TITLE: inputs.siteTitle,
    WP_HEALTH_CHECK_PATH: inputs.healthCheckPath,
    WP_DB_ENGINE: inputs.dbEngine,
    WP_DB_SECRET_ARN: inputs.dbSecretArn,
    WP_DB_WRITER_HOST: inputs.dbWriterHost,
    WP_DB_READER_HOST: inputs.dbReaderHost ?? '',
    WP_DB_PORT: inputs.dbPort,
    WP_DB_NAME: inputs.dbName,
    WP_DB_CA_BUNDLE_URL: inputs.dbCaBundleUrl,
    WP_SALTS_SECRET_ARN: inputs.saltsSecretArn,
    WP_ADMIN_SECRET_ARN: inputs.adminSecretArn,
    WP_MEDIA: inputs.media,
    WP_EFS_ID: inputs.fileSystemId ?? '',
    WP_EFS_DNS_NAME: inputs.fileSystemDnsName ?? '',
    WP_MEDIA_RECOVERY_POINT: inputs.mediaRecoveryPoint ?? '',
    WP_MEDIA_RESTORE_ROLE_ARN: inputs.mediaRestoreRoleArn ?? '',
    WP_EBS_VOLUME_ID: inputs.volumeId ?? '',
    WP_PAGE_CACHE_SECONDS: String(inputs.pageCacheSeconds),
    WP_EDGE: inputs.edge,
    WP_DISTRIBUTION_ID: inputs.distributionId ?? '',
    WP_COOKIE_HASH: inputs.cookieHash,
    WP_CACHE_HOST: inputs.cacheHost ?? '',
    WP_CACHE_PORT: inputs.cachePort ?? '',
    WP_CACHE_SECRET_ARN: inputs.cacheSecretArn ?? '',
    WP_MAIL_FROM: inputs.mailFrom ?? '',
    WP_LOG_GROUPS: inputs.logGroups ?? '',
  };
  const envLines = Object.entries(env).map(([key, value]) => `${key}=${shellQuote(value ?? '')}`);

  const archive = `${BOOT_DIR}.tar.gz`;
  return [
    '# cdk-scalable-wordpress: the inputs of this site, then the boot files and script shared by every site.',
    'set -Eeuo pipefail',
    `install -d -m 0755 ${path.posix.dirname(SITE_ENV_FILE)} ${BOOT_DIR}`,
    `cat > ${SITE_ENV_FILE} <<'SCALABLE_WORDPRESS_ENV'`,
    ...envLines,
    'SCALABLE_WORDPRESS_ENV',
    `. ${SITE_ENV_FILE}`,
    // Until boot.sh runs, a failure is reported here: on the console, and to CloudFormation when the CLI is there.
    'fetch_failed() {',
    '  echo "scalable-wordpress: FAILED (exit $?) during: fetching the boot files" | tee -a /dev/console >&2 || true',
    '  local t i',
    "  t=$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token) &&",
    '  i=$(curl -fsS -H "X-aws-ec2-metadata-token: $t" http://169.254.169.254/latest/meta-data/instance-id) &&',
    '  aws cloudformation signal-resource --region "$WP_REGION" --stack-name "$WP_STACK_NAME" \\',
    '    --logical-resource-id "$WP_SIGNAL_RESOURCE" --unique-id "$i" --status FAILURE || true',
    '  exit 1',
    '}',
    'trap fetch_failed ERR',
    'export DEBIAN_FRONTEND=noninteractive',
    'for attempt in 1 2 3 4 5; do',
    '  apt-get update -q -o Acquire::Retries=5 && apt-get install -y -q --no-install-recommends \\',
    '    -o Acquire::Retries=5 -o DPkg::Lock::Timeout=300 awscli python3 ca-certificates curl && break',
    '  sleep $((attempt * 5))',
    'done',
    'command -v aws >/dev/null',
    'aws cloudformation describe-stack-resource --region "$WP_REGION" --stack-name "$WP_STACK_NAME" \\',
    '  --logical-resource-id "$WP_BOOT_RESOURCE" --query StackResourceDetail.Metadata --output text \\',
    `  | python3 -c 'import json, sys; sys.stdout.write(json.load(sys.stdin)["${BOOT_METADATA_KEY}"]["archive"])' \\`,
    `  | base64 -d > ${archive}`,
    `echo "$WP_BOOT_SHA256  ${archive}" | sha256sum -c --quiet`,
    `tar -xzf ${archive} -C ${BOOT_DIR} --no-same-owner`,
    'trap - ERR',
    `exec ${BOOT_DIR}/boot.sh`,
  ];
}

/** What the boot resource's metadata holds under BOOT_METADATA_KEY. */
export interface BootArchive {
  /** The boot files, gzipped and base64-encoded. Deterministic: an unchanged boot never rolls the instances. */
  readonly archive: string;
  /** The SHA-256 of the gzipped archive, in hex, as `sha256sum` prints it; the user data checks it. */
  readonly sha256: string;
}

/** The boot archive and its hash, from one build of the archive. */
export function bootArchive(): BootArchive {
  const tarGz = deterministicTarGz(bootFiles());
  return { archive: tarGz.toString('base64'), sha256: createHash('sha256').update(tarGz).digest('hex') };
}

/**
 * The boot files as the instances get them: the same for every site, and the same bytes whatever machine
 * synthesizes them. Nothing is taken from the deploying machine's file system but the text: the mode comes
 * from the file type (a checkout on Windows marks every file executable, one without the execute bit marks
 * none), and line endings are LF (a checkout with CRLF would otherwise change the user data and roll the instances).
 */
export function bootFiles(dir: string = ASSETS_DIR): ArchiveEntry[] {
  // Files only: a directory there (a __pycache__ left by running a script locally) is not a boot file.
  return fs.readdirSync(dir).filter((name) => fs.statSync(path.join(dir, name)).isFile()).sort().map((name) => {
    const text = fs.readFileSync(path.join(dir, name), 'utf8').replace(/\r\n/g, '\n');
    return { name, content: Buffer.from(withoutCommentLines(name, text)), executable: path.extname(name) === '.sh' };
  });
}

/**
 * Comment lines of the boot files, by file type: they explain the files in the package, but would be a quarter
 * of the archive in every template and every fetch. Only whole lines go, and each becomes an empty line, so that
 * the line numbers in a boot error ("FAILED at line 120") are those of the file in the package.
 */
const COMMENT_LINE: Record<string, RegExp> = {
  '.sh': /^\s*#(?!!).*$/, // not the shebang
  '.conf': /^\s*#.*$/,
  '.ini': /^\s*;.*$/,
  '.php': /^\s*(\/\/.*|\/\*\*.*|\*\/|\*( .*)?)$/, // line comments and the lines of docblocks
};

export function withoutCommentLines(name: string, text: string): string {
  const comment = COMMENT_LINE[path.extname(name)];
  if (!comment) {
    return text;
  }
  return text.split('\n').map((line) => (comment.test(line) ? '' : line)).join('\n');
}

/**
 * Quotes a value for a shell assignment. Tokens (ARNs, endpoints) are resolved by CloudFormation and
 * never contain a quote, so they are quoted as they are.
 */
function shellQuote(value: string): string {
  if (Token.isUnresolved(value)) {
    return `'${value}'`;
  }
  return `'${value.replace(/'/g, '\'\\\'\'')}'`;
}
