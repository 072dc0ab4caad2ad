import { Duration, Names, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { retainUnlessDestroyed } from './private/removal';

/** The kinds of log the instances ship (assets/boot/ship-logs.py reads the files of each), by construct ID. */
const KINDS: Record<string, string> = {
  'boot': 'Boot', // cloud-init's output: the boot script's steps, and the reason of a failed boot
  'nginx-access': 'NginxAccess',
  'nginx-error': 'NginxError',
  'php-fpm': 'PhpFpm', // PHP-FPM's own log and its slow log (requests over 5 s, with their stack)
  'wordpress': 'WordPress', // PHP's errors, warnings and notices from WordPress, its plugins and themes
};

/** @internal */
export interface InstanceLogsProps {
  /** The instance role: allowed to write to these log groups, and no others. */
  readonly role: iam.IRole;
  readonly retention: logs.RetentionDays;
  readonly encryptionKey: kms.IKey;
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The log groups the instances ship their logs to, one per kind of log, each instance writing streams named
 * INSTANCE_ID/FILE; and a metric of failed boots, counted from the boot log.
 *
 * @internal
 */
export class InstanceLogs extends Construct {
  public readonly groups: Record<string, logs.LogGroup> = {};
  /** Failed boots: lines "scalable-wordpress: ... FAILED at line" in the boot log (assets/boot/boot.sh). */
  public readonly bootFailures: cloudwatch.Metric;

  constructor(scope: Construct, id: string, props: InstanceLogsProps) {
    super(scope, id);
    for (const [kind, groupId] of Object.entries(KINDS)) {
      const group = new logs.LogGroup(this, groupId, {
        retention: props.retention,
        encryptionKey: props.encryptionKey,
        removalPolicy: retainUnlessDestroyed(props.removalPolicy),
      });
      group.grantWrite(props.role);
      this.groups[kind] = group;
    }
    const metricName = `BootFailures-${Names.uniqueResourceName(this, { maxLength: 200 })}`;
    new logs.MetricFilter(this, 'BootFailuresFilter', {
      logGroup: this.groups.boot,
      filterPattern: logs.FilterPattern.allTerms('scalable-wordpress:', 'FAILED at line'),
      metricNamespace: 'ScalableWordPress',
      metricName,
      metricValue: '1',
    });
    this.bootFailures = new cloudwatch.Metric({ namespace: 'ScalableWordPress', metricName, statistic: 'Sum', period: Duration.minutes(5) });
  }

  /** The groups as the user data passes them to the instances: `KIND=NAME ...`. */
  public get environmentValue(): string {
    return Object.entries(this.groups).map(([kind, group]) => `${kind}=${group.logGroupName}`).join(' ');
  }
}
