import { Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as efs from 'aws-cdk-lib/aws-efs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { createSiteKey } from './private/removal';

/** @internal */
export interface MonitoringProps {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  readonly databaseInstance?: rds.IDatabaseInstance;
  readonly databaseCluster?: rds.IDatabaseCluster;
  /** Whether the cluster has readers, whose lag is watched. */
  readonly databaseReaders: boolean;
  readonly fileSystem?: efs.IFileSystem;
  readonly distribution?: cloudfront.Distribution;
  readonly healthCheck?: route53.CfnHealthCheck;
  /** Failed boots, counted from the boot log. */
  readonly bootFailures?: cloudwatch.IMetric;
  readonly alarmTopic?: sns.ITopic;
  readonly alarmEmail?: string;
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The site's dashboard and alarms. Each alarm's threshold and what to do when it fires are in the README
 * ("Alarms"); the thresholds are chosen to fire on an outage or a trend that ends in one, not on one slow page.
 *
 * @internal
 */
export class Monitoring extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly alarmTopic: sns.ITopic;

  constructor(scope: Construct, id: string, private readonly props: MonitoringProps) {
    super(scope, id);
    // Without alarmEmail the topic has no subscriber until the owner adds one (site.alarmTopic): the README says so,
    // and synthesis stays quiet, since a new site has nobody to page yet.
    this.alarmTopic = props.alarmTopic ?? this.createTopic(props.alarmEmail);

    const lb = props.loadBalancer.metrics;
    const tg = props.targetGroup.metrics;
    const requests = lb.requestCount({ period: Duration.minutes(1) });
    const serverErrorRate = new cloudwatch.MathExpression({
      label: '5xx, % of requests',
      expression: '100 * (FILL(target5xx, 0) + FILL(lb5xx, 0)) / requests',
      usingMetrics: {
        requests,
        target5xx: lb.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: Duration.minutes(1) }),
        lb5xx: lb.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: Duration.minutes(1) }),
      },
      period: Duration.minutes(1),
    });
    const p50 = tg.targetResponseTime({ statistic: 'p50', period: Duration.minutes(1) });
    const p99 = tg.targetResponseTime({ statistic: 'p99', period: Duration.minutes(1) });
    const unhealthy = tg.unhealthyHostCount({ statistic: 'Maximum', period: Duration.minutes(1) });
    const cpu = new cloudwatch.Metric({
      namespace: 'AWS/EC2',
      metricName: 'CPUUtilization',
      dimensionsMap: { AutoScalingGroupName: props.autoScalingGroup.autoScalingGroupName },
      statistic: 'Average',
      period: Duration.minutes(5),
    });

    this.alarm('ServerErrors', serverErrorRate, 5, 'More than 5% of requests answered with a 5xx in 3 of 5 minutes', {
      evaluationPeriods: 5, datapointsToAlarm: 3,
    });
    this.alarm('SlowResponses', p99, 3, 'The instances\' p99 response time above 3 s for 5 minutes running', {
      evaluationPeriods: 5,
    });
    this.alarm('UnhealthyInstances', unhealthy, 1, 'An instance failing the load balancer\'s health check for 5 minutes running', {
      evaluationPeriods: 5, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    if (props.healthCheck) {
      this.healthCheckAlarm(props.healthCheck);
    }
    const database = this.databaseMetrics();
    this.alarm('DatabaseCpu', database.cpu, 80, 'The database writer\'s CPU above 80% for 15 minutes', { evaluationPeriods: 3 });
    this.alarm('DatabaseFreeStorage', database.freeStorage, Size.gibibytes(2).toBytes(), `${database.freeStorageDescription} below 2 GiB`, {
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    });
    if (database.replicaLag) {
      this.alarm('ReplicaLag', database.replicaLag, 2000, 'A reader more than 2 s behind the writer for 5 minutes running', {
        evaluationPeriods: 5,
      });
    }
    if (props.bootFailures) {
      this.alarm('BootFailed', props.bootFailures, 1, 'An instance\'s boot failed (its reason is in the Boot log group)', {
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      });
    }
    const efsMetrics = props.fileSystem ? this.fileSystemMetrics(props.fileSystem) : undefined;
    if (efsMetrics) {
      this.alarm('FileSystemIoLimit', efsMetrics.ioLimit, 95, 'The file system at more than 95% of its I/O limit for 15 minutes', {
        evaluationPeriods: 3,
      });
    }

    // Lines are labelled on the dashboard only: a label on an alarm's metric would make it a metric query.
    const l = (metric: cloudwatch.Metric | cloudwatch.MathExpression, label: string) => metric.with({ label });
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
    });
    const width = 8;
    const graph = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []) =>
      new cloudwatch.GraphWidget({ title, left, right, width, height: 6 });
    const rows: cloudwatch.IWidget[] = [
      graph('Requests and errors', [requests.with({ label: 'requests' }),
        lb.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_4XX_COUNT, { period: Duration.minutes(1), label: '4xx' }),
        lb.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: Duration.minutes(1), label: '5xx' })],
      [serverErrorRate]),
      graph('Response time at the load balancer, s', [l(p50, 'p50'), l(p99, 'p99')]),
      graph('Instances', [tg.healthyHostCount({ statistic: 'Minimum', period: Duration.minutes(1), label: 'healthy' }),
        l(unhealthy, 'unhealthy')], [l(cpu, 'CPU, %')]),
      graph('Database CPU, % and connections', [l(database.cpu, 'CPU, %')], [l(database.connections, 'connections')]),
      graph('Database memory and storage, bytes', [l(database.freeableMemory, 'freeable memory'), l(database.freeStorage, database.freeStorageLabel)]),
    ];
    if (database.replicaLag) {
      rows.push(graph('Replica lag, ms', [l(database.replicaLag, 'replica lag, ms')]));
    }
    if (efsMetrics) {
      rows.push(graph('File system', [efsMetrics.throughput], [l(efsMetrics.ioLimit, 'I/O limit used, %')]));
    }
    if (props.distribution) {
      const d = props.distribution;
      rows.push(graph('Edge (CloudFront): requests and errors', [d.metricRequests({ period: Duration.minutes(1), label: 'requests' })],
        [d.metric4xxErrorRate({ label: '4xx %' }), d.metric5xxErrorRate({ label: '5xx %' })]));
      rows.push(graph('Edge (CloudFront): cache hit rate and origin latency',
        [d.metricCacheHitRate({ label: 'cache hit rate, %' })], [d.metricOriginLatency({ label: 'origin latency, ms' })]));
    }
    if (this.alarms.length > 0) {
      rows.push(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 4 }));
    }
    this.dashboard.addWidgets(...rows);
  }

  private alarm(id: string, metric: cloudwatch.IMetric, threshold: number, description: string, options: {
    readonly evaluationPeriods?: number;
    readonly datapointsToAlarm?: number;
    readonly comparisonOperator?: cloudwatch.ComparisonOperator;
  } = {}) {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: options.evaluationPeriods ?? 1,
      datapointsToAlarm: options.datapointsToAlarm,
      comparisonOperator: options.comparisonOperator ?? cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      // No data means no traffic or a resource that reports only when busy: not by itself an outage.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${description}. What to do: the README of cdk-scalable-wordpress, "Alarms", ${id}.`,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.alarmTopic));
    alarm.addOkAction(new actions.SnsAction(this.alarmTopic));
    this.alarms.push(alarm);
    return alarm;
  }

  /**
   * Route 53 publishes health check metrics in us-east-1 only ("Route 53 metrics are not available if you select
   * any other region", Route 53 Developer Guide, "Monitoring health checks using CloudWatch"), and an alarm watches
   * metrics of its own Region: the alarm exists when the site's stack is in us-east-1 (as a CloudFront site's is).
   * Elsewhere the README says so; the load balancer's alarms still fire.
   */
  private healthCheckAlarm(healthCheck: route53.CfnHealthCheck) {
    if (Stack.of(this).region !== 'us-east-1') {
      return;
    }
    const status = new cloudwatch.Metric({
      namespace: 'AWS/Route53',
      metricName: 'HealthCheckStatus',
      dimensionsMap: { HealthCheckId: healthCheck.attrHealthCheckId },
      statistic: 'Minimum',
      period: Duration.minutes(1),
    });
    this.alarm('HealthCheckFailed', status, 1, 'Route 53 finds the site unhealthy through its domain for 2 minutes running', {
      evaluationPeriods: 2, comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    });
  }

  private databaseMetrics() {
    const { databaseInstance: instance, databaseCluster: cluster } = this.props;
    if (cluster) {
      // Aurora: the writer's figures, by role (CloudWatch aggregates the cluster's instances by DBClusterIdentifier and Role).
      const role = (metricName: string, r: 'WRITER' | 'READER', statistic: string) => new cloudwatch.Metric({
        namespace: 'AWS/RDS',
        metricName,
        dimensionsMap: { DBClusterIdentifier: cluster.clusterIdentifier, Role: r },
        statistic,
        period: Duration.minutes(5),
      });
      return {
        cpu: role('CPUUtilization', 'WRITER', 'Average'),
        connections: role('DatabaseConnections', 'WRITER', 'Sum'),
        freeableMemory: role('FreeableMemory', 'WRITER', 'Minimum'),
        // Aurora's storage grows by itself; what can run out is the instance's local storage (temporary tables, logs).
        freeStorage: role('FreeLocalStorage', 'WRITER', 'Minimum'),
        freeStorageLabel: 'writer free local storage',
        freeStorageDescription: 'The writer\'s free local storage (temporary tables and logs)',
        replicaLag: this.props.databaseReaders ? role('AuroraReplicaLag', 'READER', 'Maximum') : undefined,
      };
    }
    const db = instance!;
    return {
      cpu: db.metricCPUUtilization({ period: Duration.minutes(5) }),
      connections: db.metricDatabaseConnections({ period: Duration.minutes(5) }),
      freeableMemory: db.metricFreeableMemory({ period: Duration.minutes(5) }),
      // Storage autoscaling adds storage below 10% free; 2 GiB left means it cannot keep up or has reached its maximum.
      freeStorage: db.metricFreeStorageSpace({ statistic: 'Minimum', period: Duration.minutes(5) }),
      freeStorageLabel: 'free storage',
      freeStorageDescription: 'The database\'s free storage',
      // Multi-AZ's standby is synchronous and serves no reads: there is no replica lag to watch.
      replicaLag: undefined,
    };
  }

  private fileSystemMetrics(fileSystem: efs.IFileSystem) {
    const metric = (metricName: string, statistic: string) => new cloudwatch.Metric({
      namespace: 'AWS/EFS',
      metricName,
      dimensionsMap: { FileSystemId: fileSystem.fileSystemId },
      statistic,
      period: Duration.minutes(5),
    });
    return {
      // Reported for General Purpose file systems (the construct's): how close the file system is to its I/O operations limit.
      ioLimit: metric('PercentIOLimit', 'Maximum'),
      throughput: new cloudwatch.MathExpression({
        expression: 'bytes / PERIOD(bytes)',
        usingMetrics: { bytes: metric('MeteredIOBytes', 'Sum') },
        label: 'metered throughput, bytes/s',
        period: Duration.minutes(5),
      }),
    };
  }

  /** An encrypted topic for the alarms, with the email address subscribed if any (AWS sends a confirmation mail first). */
  private createTopic(email?: string): sns.ITopic {
    const key = createSiteKey(this, 'AlarmTopicKey', `Encrypts the alarm notifications of ${this.node.scope!.node.path}`, this.props.removalPolicy);
    // CloudWatch publishes to an encrypted topic only with a customer managed key that lets it.
    key.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
    }));
    const topic = new sns.Topic(this, 'AlarmTopic', { masterKey: key, enforceSSL: true });
    if (email) {
      topic.addSubscription(new subscriptions.EmailSubscription(email));
    }
    return topic;
  }
}
