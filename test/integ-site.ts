// Shared by the integ tests (test/integ.*.ts): one destroyable site in an environment-agnostic stack,
// with the live assertions every layout must pass once deployed. Not an integ test itself.
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import { CfnAutoScalingGroup } from 'aws-cdk-lib/aws-autoscaling';
import { ScalableWordPress, ScalableWordPressProps } from '../src';

export interface IntegSite {
  readonly app: App;
  readonly stack: Stack;
  readonly site: ScalableWordPress;
  readonly integ: IntegTest;
}

/** Boots take minutes; the first assertions wait for the site rather than fail on the first try. */
const PATIENCE = { totalTimeout: Duration.minutes(15), interval: Duration.seconds(30) };

export function integSite(
  name: string,
  props: ScalableWordPressProps | ((stack: Stack) => ScalableWordPressProps),
  stackProps: StackProps = {},
): IntegSite {
  const app = new App();
  const stack = new Stack(app, `ScalableWordPress-${name}`, stackProps);
  const siteProps = typeof props === 'function' ? props(stack) : props;
  const site = new ScalableWordPress(stack, 'Site', { ...siteProps, removalPolicy: RemovalPolicy.DESTROY });
  const integ = new IntegTest(app, name, {
    testCases: [stack],
    // The assertions refer to the site's resources: in a stack with an explicit region they live beside it.
    assertionStack: stackProps.env ? new Stack(app, `ScalableWordPress-${name}-assertions`, { env: stackProps.env }) : undefined,
    // Deploy, assert, destroy: nothing of a test site may outlive the test.
    cdkCommandOptions: { destroy: { args: { force: true } } },
  });
  assertServesWordPress(integ, site);
  assertInstancesInService(integ, site, Number((site.autoScalingGroup.node.defaultChild as CfnAutoScalingGroup).minSize));
  assertOperable(integ, site);
  assertObjectCacheAvailable(integ, site);
  return { app, stack, site, integ };
}

/** The site answers with WordPress, its health path answers, and its login page is served over the promised scheme. */
function assertServesWordPress(integ: IntegTest, site: ScalableWordPress) {
  integ.assertions.httpApiCall(`${site.url}/`)
    .expect(ExpectedResult.objectLike({ status: 200, body: Match.stringLikeRegexp('wp-content') }))
    .waitForAssertions(PATIENCE);
  integ.assertions.httpApiCall(`${site.url}${ScalableWordPress.HEALTH_CHECK_PATH}`)
    .expect(ExpectedResult.objectLike({ status: 200, body: Match.stringLikeRegexp('ok') }))
    .waitForAssertions(PATIENCE);
  // site.url carries the scheme the stack promises: https:// with a domain, http:// without.
  integ.assertions.httpApiCall(`${site.url}/wp-login.php`)
    .expect(ExpectedResult.objectLike({ status: 200, body: Match.stringLikeRegexp('user_login') }))
    .waitForAssertions(PATIENCE);
}

/**
 * The backup plan exists with its daily rule, and, once the site serves, every alarm has evaluated to OK (a
 * fresh alarm is INSUFFICIENT_DATA until its first periods pass; missing data counts as not breaching).
 */
function assertOperable(integ: IntegTest, site: ScalableWordPress) {
  if (site.backupPlan) {
    integ.assertions.awsApiCall('Backup', 'getBackupPlan', { BackupPlanId: site.backupPlan.backupPlanId })
      .expect(ExpectedResult.objectLike({ BackupPlan: { Rules: [Match.objectLike({ RuleName: 'Daily', Lifecycle: { DeleteAfterDays: 35 } })] } }));
  }
  integ.assertions.awsApiCall('CloudWatch', 'describeAlarms', { AlarmNames: site.alarms.map((alarm) => alarm.alarmName) })
    .expect(ExpectedResult.objectLike({
      MetricAlarms: site.alarms.map(() => Match.objectLike({ StateValue: 'OK' })),
    }))
    .waitForAssertions(PATIENCE);
}

/** The object cache is available, on Valkey, with its user group (the instances' TLS connections are the lab's to prove). */
function assertObjectCacheAvailable(integ: IntegTest, site: ScalableWordPress) {
  if (!site.serverlessCache) {
    return;
  }
  integ.assertions.awsApiCall('ElastiCache', 'describeServerlessCaches', { ServerlessCacheName: site.serverlessCache.ref })
    .expect(ExpectedResult.objectLike({
      ServerlessCaches: [Match.objectLike({ Status: 'available', Engine: 'valkey', UserGroupId: Match.stringLikeRegexp('-users$') })],
    }))
    .waitForAssertions(PATIENCE);
}

/** Every instance the group wants is in service and healthy. */
function assertInstancesInService(integ: IntegTest, site: ScalableWordPress, count: number) {
  integ.assertions.awsApiCall('AutoScaling', 'describeAutoScalingGroups', {
    AutoScalingGroupNames: [site.autoScalingGroup.autoScalingGroupName],
  }).expect(ExpectedResult.objectLike({
    AutoScalingGroups: [{
      Instances: Array.from({ length: count }, () => Match.objectLike({ LifecycleState: 'InService', HealthStatus: 'Healthy' })),
    }],
  })).waitForAssertions(PATIENCE);
}

/** The instances run in every one of these Availability Zones. */
export function assertInstancesIn(integ: IntegTest, site: ScalableWordPress, availabilityZones: string[]) {
  for (const az of availabilityZones) {
    integ.assertions.awsApiCall('AutoScaling', 'describeAutoScalingGroups', {
      AutoScalingGroupNames: [site.autoScalingGroup.autoScalingGroupName],
    }).expect(ExpectedResult.objectLike({
      AutoScalingGroups: [{ Instances: Match.arrayWith([Match.objectLike({ AvailabilityZone: az, LifecycleState: 'InService' })]) }],
    })).waitForAssertions(PATIENCE);
  }
}

/** Aurora has one writer and `readers` readers, all available. */
export function assertAuroraMembers(integ: IntegTest, site: ScalableWordPress, readers: number) {
  const cluster = { DBClusterIdentifier: site.databaseCluster!.clusterIdentifier };
  integ.assertions.awsApiCall('RDS', 'describeDBClusters', cluster).expect(ExpectedResult.objectLike({
    DBClusters: [{
      Status: 'available',
      DBClusterMembers: Array.from({ length: readers + 1 }, () => Match.objectLike({})),
    }],
  }));
  integ.assertions.awsApiCall('RDS', 'describeDBClusters', cluster).expect(ExpectedResult.objectLike({
    DBClusters: [{ DBClusterMembers: Match.arrayWith([Match.objectLike({ IsClusterWriter: true })]) }],
  }));
}

/** EFS has an available mount target in each of the VPC's Availability Zones, and no other. */
export function assertMountTargetPerAz(integ: IntegTest, site: ScalableWordPress) {
  const mountTargets = () => integ.assertions.awsApiCall('EFS', 'describeMountTargets', { FileSystemId: site.fileSystem!.fileSystemId });
  mountTargets().expect(ExpectedResult.objectLike({
    MountTargets: site.vpc.availabilityZones.map(() => Match.objectLike({ LifeCycleState: 'available' })),
  }));
  for (const az of site.vpc.availabilityZones) {
    mountTargets().expect(ExpectedResult.objectLike({
      MountTargets: Match.arrayWith([Match.objectLike({ AvailabilityZoneName: az })]),
    }));
  }
}

/** The EBS volume is attached to the running instance. */
export function assertVolumeAttached(integ: IntegTest, site: ScalableWordPress) {
  integ.assertions.awsApiCall('EC2', 'describeVolumes', { VolumeIds: [site.volume!.volumeId] })
    .expect(ExpectedResult.objectLike({
      Volumes: [{ State: 'in-use', Attachments: [Match.objectLike({ State: 'attached' })] }],
    }));
  assertInstancesIn(integ, site, [site.volume!.availabilityZone]);
}

/**
 * Through CloudFront: a page asked for again is a hit at the edge, and the load balancer behind it is internal,
 * so that nothing on the internet can reach it but through the distribution.
 */
export function assertEdge(integ: IntegTest, site: ScalableWordPress) {
  integ.assertions.httpApiCall(`${site.url}/?integ-edge-cache`)
    .expect(ExpectedResult.objectLike({ status: 200, headers: Match.objectLike({ 'x-cache': ['Hit from cloudfront'] }) }))
    .waitForAssertions({ totalTimeout: Duration.minutes(5), interval: Duration.seconds(5) });
  integ.assertions.awsApiCall('ElasticLoadBalancingV2', 'describeLoadBalancers', { LoadBalancerArns: [site.loadBalancer.loadBalancerArn] })
    .expect(ExpectedResult.objectLike({ LoadBalancers: [Match.objectLike({ Scheme: 'internal' })] }));
}
