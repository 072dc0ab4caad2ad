import * as fs from 'fs';
import * as path from 'path';
import { Token } from 'aws-cdk-lib';
import { ArchiveEntry, deterministicTarGz } from './archive';

/** Where the boot script finds what the stack tells it. */
const SITE_ENV_FILE = '/etc/scalable-wordpress/site.env';
/** Where the user data unpacks the boot files (assets/boot in the package). */
const BOOT_DIR = '/usr/local/lib/scalable-wordpress';
/** The boot files, beside the compiled code in the package. */
const ASSETS_DIR = path.join(__dirname, '..', '..', 'assets', 'boot');

/**
 * Everything an instance needs to know to boot into the site. No secret value is here: only the
 * ARNs of the secrets, which the instance reads through its role.
 */
export interface BootInputs {
  readonly region: string;
  readonly stackName: string;
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
}

/**
 * The user data of every instance, after its shebang: it writes the stack's inputs to SITE_ENV_FILE,
 * installs the boot script and runs it. The script is the same file for every site; only the inputs differ.
 */
export function bootCommands(inputs: BootInputs): string[] {
  const env: Record<string, string | undefined> = {
    WP_REGION: inputs.region,
    WP_STACK_NAME: inputs.stackName,
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
    WP_EBS_VOLUME_ID: inputs.volumeId ?? '',
    WP_PAGE_CACHE_SECONDS: String(inputs.pageCacheSeconds),
    WP_EDGE: inputs.edge,
    WP_DISTRIBUTION_ID: inputs.distributionId ?? '',
    WP_COOKIE_HASH: inputs.cookieHash,
  };
  const envLines = Object.entries(env).map(([key, value]) => `${key}=${shellQuote(value ?? '')}`);

  return [
    '# cdk-scalable-wordpress: the inputs of this site, then the boot script shared by every site.',
    'set -euo pipefail',
    `install -d -m 0755 ${path.posix.dirname(SITE_ENV_FILE)}`,
    `cat > ${SITE_ENV_FILE} <<'SCALABLE_WORDPRESS_ENV'`,
    ...envLines,
    'SCALABLE_WORDPRESS_ENV',
    `install -d -m 0755 ${BOOT_DIR}`,
    `base64 -d <<'SCALABLE_WORDPRESS_BOOT' | tar -xzf - -C ${BOOT_DIR} --no-same-owner`,
    bootArchiveBase64(),
    'SCALABLE_WORDPRESS_BOOT',
    `exec ${BOOT_DIR}/boot.sh`,
  ];
}

/**
 * The boot files, gzipped and base64-encoded. Compressed, they fit EC2's 16 KiB limit on user data;
 * the archive is deterministic, so an unchanged boot script never rolls the instances.
 */
export function bootArchiveBase64(): string {
  return deterministicTarGz(bootFiles()).toString('base64');
}

/**
 * The boot files as the instances get them: the same for every site, and the same bytes whatever machine
 * synthesizes them. Nothing is taken from the deploying machine's file system but the text: the mode comes
 * from the file type (a checkout on Windows marks every file executable, one without the execute bit marks
 * none), and line endings are LF (a checkout with CRLF would otherwise change the user data and roll the instances).
 */
export function bootFiles(dir: string = ASSETS_DIR): ArchiveEntry[] {
  return fs.readdirSync(dir).sort().map((name) => {
    const text = fs.readFileSync(path.join(dir, name), 'utf8').replace(/\r\n/g, '\n');
    return { name, content: Buffer.from(withoutCommentLines(name, text)), executable: path.extname(name) === '.sh' };
  });
}

/**
 * Comment lines of the boot files, by file type: they explain the files in the package, but would take a
 * quarter of the 16 KiB of user data. Only whole lines go, and each becomes an empty line, so that the
 * line numbers in a boot error ("FAILED at line 120") are those of the file in the package.
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
