import { RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from './nag';
import { retainUnlessDestroyed } from './removal';

/** WordPress's eight keys and salts, in the order assets/boot/write-config.php slices them out of one secret. */
const SALT_NAMES = [
  'AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY',
  'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT',
];
/** Each key or salt is 64 characters, as WordPress's own generator makes them. */
const SALT_LENGTH = 64;

export interface SiteSecretsProps {
  readonly adminUsername: string;
  readonly adminEmail: string;
  readonly removalPolicy?: RemovalPolicy;
  /** The key that encrypts the secrets. */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The secrets WordPress needs besides the database's: its keys and salts, and the first admin's login.
 * Secrets Manager generates them at deploy time, so no value is ever in the template.
 */
export class SiteSecrets extends Construct {
  /** One generated string of 8 x 64 characters; the boot script cuts it into the eight keys and salts. */
  public readonly salts: secretsmanager.Secret;
  /** `{ "username", "email", "password" }` of the administrator created at install. */
  public readonly admin: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: SiteSecretsProps) {
    super(scope, id);
    // Secrets Manager generates one random string per secret. One long string sliced into eight
    // keeps the eight values independent and random, at the price of one secret instead of eight.
    this.salts = new secretsmanager.Secret(this, 'Salts', {
      description: `WordPress keys and salts: ${SALT_NAMES.length} consecutive runs of ${SALT_LENGTH} characters (${SALT_NAMES.join(', ')})`,
      generateSecretString: { passwordLength: SALT_NAMES.length * SALT_LENGTH, includeSpace: false },
      encryptionKey: props.encryptionKey,
    });
    this.admin = new secretsmanager.Secret(this, 'Admin', {
      description: 'WordPress administrator created at install: username, email and password',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: props.adminUsername, email: props.adminEmail }),
        generateStringKey: 'password',
        passwordLength: 32,
        includeSpace: false,
      },
      encryptionKey: props.encryptionKey,
    });
    const policy = retainUnlessDestroyed(props.removalPolicy);
    this.salts.applyRemovalPolicy(policy);
    this.admin.applyRemovalPolicy(policy);
    acknowledge(this.salts, 'AwsSolutions-SMG4',
      'rotating the keys and salts logs every user out and needs every instance to reload them; they are generated once per site');
    acknowledge(this.admin, 'AwsSolutions-SMG4',
      'the administrator password is used once, to install WordPress; after that WordPress keeps its own hash and the admin changes it in wp-admin');
  }
}
