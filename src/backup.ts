import { Annotations, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as events from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import { acknowledge } from './private/nag';
import { createSiteKey, retainUnlessDestroyed } from './private/removal';

/** Options for the site's daily backup (`WordPressBackup.daily()`). */
export interface WordPressBackupOptions {
  /**
   * How long each backup is kept. AWS Backup keeps recovery points for at least a day.
   *
   * @default Duration.days(35)
   */
  readonly retention?: Duration;

  /**
   * When the backup starts. AWS Backup starts the job within an hour of this time, and lets it run for
   * up to a day.
   *
   * @default - every day at 03:00 UTC
   */
  readonly schedule?: events.Schedule;

  /**
   * A backup vault in another Region (or account) that each backup is copied to, so that a site can be
   * restored when its Region is lost. Make it in a stack of that Region and pass it here (cross-region
   * references), or import it with `BackupVault.fromBackupVaultArn()`.
   *
   * @default - no copy
   */
  readonly copyTo?: backup.IBackupVault;

  /**
   * How long the copies in `copyTo` are kept.
   *
   * @default - the same as `retention`
   */
  readonly copyRetention?: Duration;
}

/**
 * The site's backups in AWS Backup: the database, and the media (the EFS file system or the EBS volume),
 * in a vault of the site's own, encrypted with a key of its own.
 *
 * The database also keeps its automated backups for point-in-time recovery (`backupRetention` of
 * `WordPressDatabase`); AWS Backup adds daily recovery points that outlive them, can be copied to another
 * Region, and cover the media too.
 */
export abstract class WordPressBackup {
  /** A backup every day, kept 35 days unless you say otherwise. */
  public static daily(options: WordPressBackupOptions = {}): WordPressBackup {
    return new DailyBackup(options);
  }

  /**
   * No AWS Backup plan. The database still keeps its automated backups; the media have none but what
   * `WordPressMedia.efs({ automaticBackups })` turns on. A synth-time warning says so.
   */
  public static none(): WordPressBackup {
    return new NoBackup();
  }

  /** @internal Whether this plan backs up the database and the media. */
  public abstract readonly _coversSite: boolean;

  /** @internal */
  public abstract _bind(scope: Construct, context: BackupContext): BoundBackup;
}

/** @internal */
export interface BackupContext {
  /** What to back up: the database and the media. */
  readonly resources: backup.BackupResource[];
  readonly removalPolicy?: RemovalPolicy;
}

/** @internal */
export interface BoundBackup {
  readonly plan?: backup.BackupPlan;
  readonly vault?: backup.BackupVault;
}

class DailyBackup extends WordPressBackup {
  /** @internal */
  public readonly _coversSite = true;

  constructor(private readonly options: WordPressBackupOptions) {
    super();
  }

  /** @internal */
  public _bind(scope: Construct, context: BackupContext): BoundBackup {
    const retention = this.options.retention ?? Duration.days(35);
    validateRetention('retention', retention);
    if (this.options.copyRetention) {
      validateRetention('copyRetention', this.options.copyRetention);
    }
    if (this.options.copyRetention && !this.options.copyTo) {
      throw new Error('backup: copyRetention is set but copyTo is not. Pass copyTo (a vault in another Region), or drop copyRetention.');
    }
    this.checkCopyRegion(scope);
    // Backups outlive the stack unless it is a test stack: the vault and its key are retained.
    const encryptionKey = createSiteKey(scope, 'Key', `Encrypts the backups of ${scope.node.path}`, context.removalPolicy);
    const vault = new backup.BackupVault(scope, 'Vault', { encryptionKey, removalPolicy: retainUnlessDestroyed(context.removalPolicy) });
    const plan = new backup.BackupPlan(scope, 'Plan', { backupVault: vault });
    plan.addRule(new backup.BackupPlanRule({
      ruleName: 'Daily',
      scheduleExpression: this.options.schedule ?? events.Schedule.cron({ hour: '3', minute: '0' }),
      deleteAfter: retention,
      copyActions: this.options.copyTo ? [{
        destinationBackupVault: this.options.copyTo,
        deleteAfter: this.options.copyRetention ?? retention,
      }] : undefined,
    }));
    const selection = plan.addSelection('Site', { resources: context.resources, allowRestores: true });
    for (const policy of ['AWSBackupServiceRolePolicyForBackup', 'AWSBackupServiceRolePolicyForRestores']) {
      acknowledge(selection, `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
        'AWS Backup\'s own managed policy for its service role, as AWS Backup documents; it follows the services AWS Backup supports');
    }
    return { plan, vault };
  }

  /** A copy must leave the Region: a vault in the same Region protects against nothing the first does not. */
  private checkCopyRegion(scope: Construct) {
    const copyTo = this.options.copyTo;
    const region = Stack.of(scope).region;
    if (!copyTo || Token.isUnresolved(copyTo.backupVaultArn) || Token.isUnresolved(region)) {
      return;
    }
    const copyRegion = copyTo.backupVaultArn.split(':')[3];
    if (copyRegion === region) {
      Annotations.of(scope).addWarningV2('cdk-scalable-wordpress:backupCopySameRegion',
        `backup: copyTo is a vault in ${region}, the site's own Region, so the copy does not survive the loss of the Region. ` +
        'Pass a vault made in another Region.');
    }
  }
}

class NoBackup extends WordPressBackup {
  /** @internal */
  public readonly _coversSite = false;

  /** @internal */
  public _bind(scope: Construct): BoundBackup {
    Annotations.of(scope).addWarningV2('cdk-scalable-wordpress:noBackup',
      'backup: WordPressBackup.none() leaves the site without an AWS Backup plan: the database keeps only its automated backups ' +
      '(at most 35 days, deleted with the database), and the media have no backup. Use WordPressBackup.daily() unless another plan covers them.');
    return {};
  }
}

function validateRetention(prop: string, retention: Duration) {
  const days = retention.toDays({ integral: false });
  if (Token.isUnresolved(days)) {
    return;
  }
  if (days < 1 || !Number.isInteger(days)) {
    throw new Error(`backup: ${prop} is ${retention.toHumanString()}, but AWS Backup keeps recovery points for whole days, at least 1. ` +
      `Pass ${prop}: Duration.days(N) with N >= 1.`);
  }
}
