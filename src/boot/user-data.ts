import * as fs from 'fs';
import * as path from 'path';
import { Token } from 'aws-cdk-lib';

/** Where the boot script finds what the stack tells it. */
export const SITE_ENV_FILE = '/etc/scalable-wordpress/site.env';
/** Where the user data installs the boot script. */
export const BOOT_SCRIPT_PATH = '/usr/local/sbin/scalable-wordpress-boot';

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
  readonly saltsSecretArn: string;
  readonly adminSecretArn: string;
  readonly media: string;
  readonly fileSystemId?: string;
  readonly volumeId?: string;
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
    WP_SALTS_SECRET_ARN: inputs.saltsSecretArn,
    WP_ADMIN_SECRET_ARN: inputs.adminSecretArn,
    WP_MEDIA: inputs.media,
    WP_EFS_ID: inputs.fileSystemId ?? '',
    WP_EBS_VOLUME_ID: inputs.volumeId ?? '',
  };
  const envLines = Object.entries(env).map(([key, value]) => `${key}=${shellQuote(value ?? '')}`);

  return [
    '# cdk-scalable-wordpress: the inputs of this site, then the boot script shared by every site.',
    'set -euo pipefail',
    `install -d -m 0755 ${path.posix.dirname(SITE_ENV_FILE)}`,
    `cat > ${SITE_ENV_FILE} <<'SCALABLE_WORDPRESS_ENV'`,
    ...envLines,
    'SCALABLE_WORDPRESS_ENV',
    `cat > ${BOOT_SCRIPT_PATH} <<'SCALABLE_WORDPRESS_BOOT'`,
    bootScript().trimEnd(),
    'SCALABLE_WORDPRESS_BOOT',
    `chmod 0755 ${BOOT_SCRIPT_PATH}`,
    `exec ${BOOT_SCRIPT_PATH}`,
  ];
}

/** The boot script, shipped in the package beside the compiled code. */
export function bootScript(): string {
  return fs.readFileSync(path.join(__dirname, '..', '..', 'assets', 'boot', 'boot.sh'), 'utf8');
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
