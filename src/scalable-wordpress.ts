import { createHash } from 'crypto';
import { Annotations, CfnOutput, Duration, Lazy, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as efs from 'aws-cdk-lib/aws-efs';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ses from 'aws-cdk-lib/aws-ses';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { WordPressBackup } from './backup';
import { BOOT_METADATA_KEY, bootArchive, bootCommands } from './boot/user-data';
import { BoundDatabase, WordPressDatabase } from './database';
import { WordPressEdge } from './edge';
import { createEmail } from './email';
import { WordPressFirewall } from './firewall';
import { InstanceLogs } from './instance-logs';
import { WordPressMedia } from './media';
import { Monitoring } from './monitoring';
import { WordPressObjectCache } from './object-cache';
import { ManagedPolicyRole } from './private/managed-policy-role';
import { acknowledge } from './private/nag';
import { rdsCaBundleUrl, requireDebianImageParameter } from './private/partition';
import { createLogsKey, createSiteKey, retainUnlessDestroyed } from './private/removal';
import {
  Capacity, normalizeDomainName, pageCacheTtlSeconds, validateAccessLogs, validateAdmin, validateCapacity, validateDomain, validateInstanceType,
  validateScalingTargets,
} from './private/site-props';
import { SiteSecrets } from './private/site-secrets';
import { describeAzs, distinctAzs } from './private/validation';

/** Public SSM parameters of the official Debian 13 (trixie) AMIs, published by Debian's cloud team. */
const DEBIAN_13_AMI_PARAMETERS: Record<string, string> = {
  [ec2.InstanceArchitecture.X86_64]: '/aws/service/debian/release/13/latest/amd64',
  [ec2.InstanceArchitecture.ARM_64]: '/aws/service/debian/release/13/latest/arm64',
};
/** Root device of Debian's AMIs; the default image gets an encrypted gp3 root volume on it. */
const DEBIAN_ROOT_DEVICE = '/dev/xvda';
/** How long an instance may take from launch to serving WordPress before the deploy fails. */
const BOOT_TIMEOUT = Duration.minutes(20);

/**
 * Properties of a `ScalableWordPress` site. Every one is optional: with none, the site is a complete,
 * highly available WordPress on RDS Multi-AZ and EFS, served by two m5.large instances over HTTP.
 */
export interface ScalableWordPressProps {
  /**
   * The database: RDS for MySQL Multi-AZ, or Aurora MySQL with read replicas.
   *
   * @default WordPressDatabase.rdsMultiAz()
   */
  readonly database?: WordPressDatabase;

  /**
   * Where `wp-content` (uploads, plugins, themes) lives: EFS shared by every instance, or EBS for a single instance.
   *
   * @default WordPressMedia.efs()
   */
  readonly media?: WordPressMedia;

  /**
   * The instances' type. An ARM (Graviton) type gets the arm64 image. It needs 2 GiB of memory or more:
   * nano and micro sizes fail at synth time.
   *
   * @default m5.large
   */
  readonly instanceType?: ec2.InstanceType;

  /**
   * The instances' image. It must be Debian 13 or a derivative for the boot script to work.
   *
   * @default - the official Debian 13 (trixie) AMI for the instance type's architecture, resolved at deploy time
   * from its public SSM parameter (`/aws/service/debian/release/13/latest/amd64` or `.../arm64`)
   */
  readonly machineImage?: ec2.IMachineImage;

  /**
   * Fewest instances in service.
   *
   * @default 2 with EFS, 1 with EBS
   */
  readonly minCapacity?: number;

  /**
   * Most instances in service. With EBS it must be 1.
   *
   * @default - the larger of `minCapacity` and 4 with EFS; 1 with EBS
   */
  readonly maxCapacity?: number;

  /**
   * Average CPU utilization, in percent, that scaling keeps the instances at.
   *
   * @default 60
   */
  readonly targetCpuUtilizationPercent?: number;

  /**
   * Requests per minute per instance, counted by the load balancer, that scaling keeps the instances at.
   *
   * @default 1200
   */
  readonly targetRequestsPerMinute?: number;

  /**
   * The VPC to build the site in.
   *
   * @default - a new dual-stack VPC over two Availability Zones, with public, private (with NAT) and isolated subnets
   */
  readonly vpc?: ec2.IVpc;

  /**
   * Where the instances run.
   *
   * @default - the VPC's private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Where the database and the EFS mount targets go.
   *
   * @default - the VPC's isolated subnets if it has any, otherwise its private subnets with egress
   */
  readonly dataSubnets?: ec2.SubnetSelection;

  /**
   * The site's domain name, e.g. `blog.example.com`. Needs `domainZone`. A host name, not a URL: it is
   * lower-cased and loses a trailing dot.
   *
   * @default - no domain: the site answers on the load balancer's DNS name over HTTP
   */
  readonly domainName?: string;

  /**
   * The Route 53 hosted zone that holds `domainName`, which it needs. The site gets alias records in it, a DNS-validated
   * certificate (unless `certificate` is given) and a Route 53 health check.
   *
   * @default - no DNS records
   */
  readonly domainZone?: route53.IHostedZone;

  /**
   * The certificate for HTTPS. It must cover `domainName`, and with `WordPressEdge.cloudFront()` be in us-east-1.
   *
   * @default - a new certificate for `domainName`, validated in `domainZone`, when a domain is given
   */
  readonly certificate?: acm.ICertificate;

  /**
   * The site's title, set at install.
   *
   * @default 'WordPress'
   */
  readonly siteTitle?: string;

  /**
   * Login name of the administrator created at install: 1 to 60 letters, digits, spaces and `_ . - @`, as
   * WordPress allows. The password is generated in Secrets Manager.
   *
   * @default 'wpadmin'
   */
  readonly adminUsername?: string;

  /**
   * Email address of the administrator created at install.
   *
   * @default - `admin@` followed by `domainName`, or `admin@example.com` without a domain
   */
  readonly adminEmail?: string;

  /**
   * WordPress's persistent object cache, shared by every instance. It keeps the options, posts, terms, users and query
   * results WordPress would otherwise read from the database on every request: logged-in pages, wp-admin and
   * pages the page cache cannot answer make far fewer queries (a dashboard view 7 instead of 47). If the cache cannot
   * be reached, WordPress runs from the database alone, and nothing stale is served when it returns. Off by default:
   * measured with AWS-like latency, its round trips cost each page more time than the queries it saves (see the
   * README, "The object cache"); it takes load off the database.
   *
   * @default WordPressObjectCache.none()
   */
  readonly objectCache?: WordPressObjectCache;

  /**
   * How long each instance keeps a page it rendered for an anonymous visitor and serves it again without
   * running PHP. Logged-in users, commenters, password-protected posts, wp-admin, logins, the REST API and
   * anything but GET and HEAD always reach WordPress. Publishing, updating or trashing a post, or approving a
   * comment, empties every instance's cache within seconds (and the edge's paths of that post, with CloudFront);
   * any other change (options, menus, widgets, themes) reaches anonymous visitors within this lifetime, plus one
   * render. The same lifetime applies at CloudFront's edge. `Duration.seconds(0)` turns the cache off.
   *
   * @default Duration.minutes(1)
   */
  readonly pageCacheTtl?: Duration;

  /**
   * What stands between visitors and the instances: the load balancer alone, or CloudFront and AWS WAF in
   * front of a load balancer that only CloudFront reaches. CloudFront's certificate and web ACL live in
   * us-east-1: a site in another region passes them in (see `WordPressEdge.cloudFront()`).
   *
   * @default WordPressEdge.loadBalancer(), which works in any stack, including environment-agnostic ones
   */
  readonly edge?: WordPressEdge;

  /**
   * Whether the load balancer writes access logs to S3.
   *
   * @default true
   */
  readonly accessLogs?: boolean;

  /**
   * The S3 bucket the load balancer writes its access logs to. It must be encrypted with S3-managed keys
   * (SSE-S3): load balancers cannot write to a bucket encrypted with KMS.
   *
   * @default - a bucket the construct makes: SSE-S3, TLS only, no public access, logs expire after 90 days
   */
  readonly accessLogBucket?: s3.IBucket;

  /**
   * The address WordPress sends its mail from (password resets, new users, comment notices), through Amazon
   * SES with the instances' role. With `domainZone`, the construct verifies the zone's domain in SES (Easy DKIM
   * records in the zone), so any address in it works. Without a zone, pass an address of an identity you
   * verified in SES yourself. A new SES account is in the sandbox: see the README ("Email").
   *
   * @default - `wordpress@` the zone's domain with `domainZone`; without one, WordPress sends no mail (a synth-time warning says so)
   */
  readonly emailFrom?: string;

  /**
   * How long the instances' logs (boot, nginx, PHP-FPM, WordPress) are kept in CloudWatch Logs.
   *
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * The site's backups in AWS Backup: the database and the media, every day, in a vault of the site's own.
   *
   * @default WordPressBackup.daily(), kept 35 days
   */
  readonly backup?: WordPressBackup;

  /**
   * An email address that the site's alarms notify, subscribed to the SNS topic the construct makes for them
   * (AWS first mails a confirmation link to the address). The README lists each alarm and what to do when it fires.
   *
   * @default - no address: the alarms notify `alarmTopic`, or the site's own topic, which has no subscriber until you add one
   */
  readonly alarmEmail?: string;

  /**
   * An SNS topic that the site's alarms notify, when they go into alarm and when they recover: for example
   * one that pages the team on call. Its key, if it is encrypted, must let CloudWatch use it.
   *
   * @default - an encrypted topic the construct makes (`site.alarmTopic`), with `alarmEmail` subscribed
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * What happens to the database, media, secrets and logs when they leave the stack.
   * `RemovalPolicy.DESTROY` also turns off the database's deletion protection: use it for test stacks.
   *
   * @default - the database is snapshotted and protected from deletion; media, secrets and logs are retained
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A production WordPress site: an Application Load Balancer in front of an Auto Scaling group of
 * instances across Availability Zones, a managed MySQL database, shared media, and secrets in
 * Secrets Manager. Every instance boots into a working WordPress with no hand steps.
 *
 * @example
 * declare const zone: route53.IHostedZone;
 *
 * new ScalableWordPress(this, 'Blog', {
 *   database: WordPressDatabase.auroraReplicas({ readers: 2 }),
 *   media: WordPressMedia.efs(),
 *   domainName: 'blog.example.com',
 *   domainZone: zone,
 * });
 */
export class ScalableWordPress extends Construct implements ec2.IConnectable {
  /**
   * The path the load balancer checks. It proves that the web server and PHP serve, and touches no
   * database: a database failover must not make every instance unhealthy at once.
   */
  public static readonly HEALTH_CHECK_PATH = '/healthz.php';

  /** The site's address: `https://<domainName>`, or `http://<load balancer DNS name>` without a domain. */
  public readonly url: string;
  /** The VPC the site runs in. */
  public readonly vpc: ec2.IVpc;
  /** The load balancer in front of the instances. */
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** The listener that serves the site: HTTPS with a domain, HTTP without. */
  public readonly listener: elbv2.ApplicationListener;
  /** The instances' target group. */
  public readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** The Auto Scaling group of web instances. */
  public readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  /** The web instances' role. */
  public readonly role: iam.IRole;
  /** The web tier's network connections: allow it to reach other resources through this. */
  public readonly connections: ec2.Connections;
  /** The endpoint WordPress writes to. */
  public readonly databaseEndpoint: rds.Endpoint;
  /** Aurora's reader endpoint, which anonymous reads go to. Undefined for RDS Multi-AZ. */
  public readonly databaseReaderEndpoint?: rds.Endpoint;
  /** The database's credentials (username, password, host, port). */
  public readonly databaseSecret: secretsmanager.ISecret;
  /** The RDS instance, with `WordPressDatabase.rdsMultiAz()`. */
  public readonly databaseInstance?: rds.IDatabaseInstance;
  /** The Aurora cluster, with `WordPressDatabase.auroraReplicas()`. */
  public readonly databaseCluster?: rds.IDatabaseCluster;
  /** The shared file system, with `WordPressMedia.efs()`. */
  public readonly fileSystem?: efs.IFileSystem;
  /** The media volume, with `WordPressMedia.ebs()`. */
  public readonly volume?: ec2.IVolume;
  /** The administrator's username, email and password. */
  public readonly adminSecret: secretsmanager.ISecret;
  /** WordPress's keys and salts. */
  public readonly saltsSecret: secretsmanager.ISecret;
  /** The certificate of the site's domain: the HTTPS listener's, or the distribution's with CloudFront. */
  public readonly certificate?: acm.ICertificate;
  /** The CloudFront distribution, with `WordPressEdge.cloudFront()`. */
  public readonly distribution?: cloudfront.IDistribution;
  /**
   * The firewall in front of the site: on the distribution with `WordPressEdge.cloudFront()`, on the load balancer
   * otherwise. Its `webAcl` is the AWS WAF web ACL. Undefined with `WordPressEdge.loadBalancer({ firewallEnabled: false })`.
   */
  public readonly firewall?: WordPressFirewall;
  /** The site's CloudWatch dashboard: traffic, errors, latency, instances, database, media and edge at a glance. */
  public readonly dashboard: cloudwatch.Dashboard;
  /** The site's alarms (see the README, "Alarms"). */
  public readonly alarms: cloudwatch.Alarm[];
  /** The topic the alarms notify: `alarmTopic`, or one the construct made (subscribe to it to hear of alarms). */
  public readonly alarmTopic: sns.ITopic;
  /** The log groups the instances ship their logs to: boot, nginx access and error, PHP-FPM, WordPress's PHP errors. */
  public readonly logGroups: logs.ILogGroup[];
  /** The SES identity of the site's domain (with Easy DKIM records in its zone), when the site has a zone. */
  public readonly emailIdentity?: ses.EmailIdentity;
  /** The persistent object cache (ElastiCache Serverless for Valkey), unless `WordPressObjectCache.none()`. */
  public readonly serverlessCache?: elasticache.CfnServerlessCache;
  /** The object cache user's username and password, unless `WordPressObjectCache.none()`. */
  public readonly objectCacheSecret?: secretsmanager.ISecret;
  /** The AWS Backup plan of the database and media, unless `WordPressBackup.none()`. */
  public readonly backupPlan?: backup.BackupPlan;
  /** The vault the backups are kept in, unless `WordPressBackup.none()`. */
  public readonly backupVault?: backup.BackupVault;

  constructor(scope: Construct, id: string, props: ScalableWordPressProps = {}) {
    super(scope, id);
    const media = props.media ?? WordPressMedia.efs();
    const database = props.database ?? WordPressDatabase.rdsMultiAz();
    const siteBackup = props.backup ?? WordPressBackup.daily();
    const capacity = validateCapacity(props.minCapacity, props.maxCapacity, media._singleInstance);
    const domainName = props.domainName === undefined ? undefined : normalizeDomainName(props.domainName);
    validateDomain(domainName, props.domainZone, props.certificate !== undefined);
    validateScalingTargets(props.targetCpuUtilizationPercent, props.targetRequestsPerMinute);
    const instanceType = props.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.M5, ec2.InstanceSize.LARGE);
    validateInstanceType(instanceType);
    const adminUsername = props.adminUsername ?? 'wpadmin';
    const adminEmail = props.adminEmail ?? `admin@${domainName ?? 'example.com'}`;
    validateAdmin(adminUsername, adminEmail);
    const pageCacheSeconds = pageCacheTtlSeconds(this, props.pageCacheTtl);
    validateAccessLogs(props.accessLogs, props.accessLogBucket);

    const logsKey = createLogsKey(this, 'LogsKey', `Encrypts the logs of ${this.node.path}`, props.removalPolicy);
    this.vpc = props.vpc ?? this.createVpc(logsKey, props.removalPolicy);
    const dualStack = !props.vpc;
    const dataSubnets = selectSubnets(this.vpc, 'dataSubnets', props.dataSubnets ?? defaultDataSubnets(this.vpc),
      'Pass dataSubnets that select isolated or private subnets in two or more AZs.');
    let instanceSubnets = selectSubnets(this.vpc, 'vpcSubnets', props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      'Pass vpcSubnets that select private subnets with a route to the internet (PRIVATE_WITH_EGRESS), for packages and AWS APIs.');
    const instanceAzs = distinctAzs(instanceSubnets).length;
    const webSubnets = instanceSubnets;
    if (media._singleInstance) {
      // An EBS volume lives in one AZ; its one instance must run there.
      instanceSubnets = this.vpc.selectSubnets({ subnets: [instanceSubnets.subnets[0]] });
      Annotations.of(this).addWarningV2('cdk-scalable-wordpress:singleInstance',
        'WordPressMedia.ebs() runs one instance in one Availability Zone: an instance replacement or an AZ outage takes the site down ' +
        'until a new instance boots. Use WordPressMedia.efs() for a site that stays up.');
    } else if (instanceAzs < 2) {
      Annotations.of(this).addWarningV2('cdk-scalable-wordpress:instancesInOneAz',
        `The instances run in ${describeAzs(instanceAzs)}: an AZ outage takes the site down. ` +
        'Pass vpcSubnets (or a vpc) with private subnets in two or more AZs.');
    }

    const webSecurityGroup = new ec2.SecurityGroup(this, 'WebSecurityGroup', {
      vpc: this.vpc,
      description: 'WordPress instances: HTTP from the load balancer only',
      // Packages, Secrets Manager, CloudFormation and SSM endpoints, over IPv4 and IPv6: in a dual-stack VPC the
      // instances have an IPv6 default route, and a client without a fast fallback would hang on IPv6 until it times out.
      allowAllOutbound: true,
      allowAllIpv6Outbound: true,
    });
    this.connections = new ec2.Connections({ securityGroups: [webSecurityGroup] });
    const role = new ManagedPolicyRole(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'WordPress instances: read the site secrets, attach the site volume, signal the stack, SSM Session Manager',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    this.role = role;
    acknowledge(role, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      'AmazonSSMManagedInstanceCore is the policy AWS maintains for Session Manager, which replaces SSH: no key pair, no port 22');

    // Secrets and stateful resources. Their construct IDs fix their logical IDs: never rename them.
    // One customer managed key for the site's secrets: their encryption is the owner's to audit and revoke.
    const secretsKey = createSiteKey(this, 'SecretsKey',
      `Encrypts the secrets of ${this.node.path}: database credentials, keys and salts, admin password`, props.removalPolicy);
    const secrets = new SiteSecrets(this, 'Secrets', {
      adminUsername,
      adminEmail,
      removalPolicy: props.removalPolicy,
      encryptionKey: secretsKey,
    });
    this.adminSecret = secrets.admin;
    this.saltsSecret = secrets.salts;
    const db: BoundDatabase = database._bind(new Construct(this, 'Database'), {
      vpc: this.vpc,
      subnets: dataSubnets,
      removalPolicy: props.removalPolicy,
      secretsKey,
    });
    // The port as a literal (the endpoint's port attribute is a token that rule checkers cannot read): MySQL's 3306.
    db.connections.allowFrom(this.connections, ec2.Port.tcp(3306), 'WordPress instances');
    this.databaseEndpoint = db.writerEndpoint;
    this.databaseReaderEndpoint = db.readerEndpoint;
    this.databaseSecret = db.secret;
    this.databaseInstance = db.instance;
    this.databaseCluster = db.cluster;

    // The user data is filled in below, once the load balancer's name and the stack's resources exist.
    const userData = ec2.UserData.forLinux({ shebang: '#!/bin/bash' });
    this.autoScalingGroup = this.createAutoScalingGroup(props, instanceType, capacity, media, instanceSubnets, webSecurityGroup, role, userData);
    const storage = media._bind(new Construct(this, 'Media'), {
      vpc: this.vpc,
      dataSubnets,
      instanceAvailabilityZones: distinctAzs(instanceSubnets),
      role,
      attachers: [this.autoScalingGroup],
      removalPolicy: props.removalPolicy,
      backedUp: siteBackup._coversSite,
    });
    storage.connections?.allowDefaultPortFrom(this.connections, 'WordPress instances');
    if (storage.available) {
      // Instances mount the media at boot: an update that adds or replaces mount targets must finish first.
      this.autoScalingGroup.node.addDependency(storage.available);
    }
    this.fileSystem = storage.fileSystem;
    this.volume = storage.volume;
    const objectCache = (props.objectCache ?? WordPressObjectCache.none())._bind(new Construct(this, 'ObjectCache'), {
      vpc: this.vpc,
      subnets: this.vpc.selectSubnets({ subnets: dataSubnets.subnets, onePerAz: true }),
      clients: this,
      encryptionKey: secretsKey,
      removalPolicy: props.removalPolicy,
    });
    if (objectCache) {
      // Instances fall back to the database without the cache, but each request would first wait for its connect timeout.
      this.autoScalingGroup.node.addDependency(objectCache.cache);
    }
    this.serverlessCache = objectCache?.cache;
    this.objectCacheSecret = objectCache?.secret;
    for (const secret of [db.secret, secrets.salts, secrets.admin, ...(objectCache ? [objectCache.secret] : [])]) {
      secret.grantRead(role);
    }
    // The boot fetches its files from this stack's template (the Auto Scaling group's signals already grant
    // cloudformation:SignalResource on this stack).
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['cloudformation:DescribeStackResource'],
      resources: [Stack.of(this).stackId],
    }));

    // Edge: the load balancer, and CloudFront with its firewall when chosen; DNS.
    const cookieHash = createHash('md5').update(Names.uniqueId(this)).digest('hex');
    const edge = (props.edge ?? WordPressEdge.loadBalancer())._bind(this, {
      vpc: this.vpc,
      dualStack,
      privateSubnets: webSubnets,
      autoScalingGroup: this.autoScalingGroup,
      healthCheckPath: ScalableWordPress.HEALTH_CHECK_PATH,
      logsKey,
      domainName,
      domainZone: props.domainZone,
      certificate: props.certificate,
      accessLogBucket: props.accessLogBucket,
      accessLogs: props.accessLogs ?? true,
      removalPolicy: props.removalPolicy,
      pageCacheSeconds,
      cookieHash,
    });
    this.url = edge.url;
    this.loadBalancer = edge.loadBalancer;
    this.listener = edge.listener;
    this.targetGroup = edge.targetGroup;
    this.certificate = edge.certificate;
    this.distribution = edge.distribution;
    this.firewall = edge.firewall;
    // The instances purge the edge when content changes: invalidations of this distribution, and nothing else.
    edge.distribution?.grantCreateInvalidation(role);

    // The instances' logs, in CloudWatch Logs.
    const instanceLogs = new InstanceLogs(this, 'Logs', {
      role,
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      encryptionKey: logsKey,
      removalPolicy: props.removalPolicy,
    });
    this.logGroups = Object.values(instanceLogs.groups);

    // Outbound email through SES.
    const email = createEmail(this, { domainZone: props.domainZone, emailFrom: props.emailFrom, role });
    this.emailIdentity = email.identity;

    // Operations: backups, the dashboard and the alarms.
    const backups = siteBackup._bind(new Construct(this, 'Backup'), {
      resources: [
        db.cluster ? backup.BackupResource.fromRdsDatabaseCluster(db.cluster) : backup.BackupResource.fromRdsDatabaseInstance(db.instance!),
        ...(storage.fileSystem ? [backup.BackupResource.fromEfsFileSystem(storage.fileSystem)] : []),
        ...(storage.volume ? [backup.BackupResource.fromArn(Stack.of(this).formatArn({
          service: 'ec2', resource: 'volume', resourceName: storage.volume.volumeId,
        }))] : []),
      ],
      removalPolicy: props.removalPolicy,
    });
    this.backupPlan = backups.plan;
    this.backupVault = backups.vault;
    if (backups.plan && db.cluster) {
      // The packs' RDSInBackupPlan looks for each DB instance in a selection; AWS Backup protects Aurora by cluster,
      // and the cluster is in the plan (https://docs.aws.amazon.com/aws-backup/latest/devguide/whatisbackup.html#supported-resources).
      for (const pack of ['HIPAA.Security', 'NIST.800.53.R5']) {
        acknowledge(db.cluster, `${pack}-RDSInBackupPlan`,
          'Aurora is backed up by cluster, and the cluster is in the site\'s backup plan; AWS Backup does not back up an Aurora instance alone');
      }
    }
    const monitoring = new Monitoring(this, 'Monitoring', {
      loadBalancer: edge.loadBalancer,
      targetGroup: edge.targetGroup,
      autoScalingGroup: this.autoScalingGroup,
      databaseInstance: db.instance,
      databaseCluster: db.cluster,
      databaseReaders: (db.cluster?.instanceIdentifiers.length ?? 0) > 1,
      fileSystem: storage.fileSystem,
      distribution: edge.distribution,
      healthCheck: edge.healthCheck,
      bootFailures: instanceLogs.bootFailures,
      alarmEmail: props.alarmEmail,
      alarmTopic: props.alarmTopic,
      removalPolicy: props.removalPolicy,
    });
    this.dashboard = monitoring.dashboard;
    this.alarms = monitoring.alarms;
    this.alarmTopic = monitoring.alarmTopic;

    const stack = Stack.of(this);
    // The boot files ride in the launch template's metadata (see bootCommands).
    const launchTemplate = this.node.findChild('LaunchTemplate') as ec2.LaunchTemplate;
    const cfnLaunchTemplate = launchTemplate.node.defaultChild as ec2.CfnLaunchTemplate;
    const boot = bootArchive();
    cfnLaunchTemplate.addMetadata(BOOT_METADATA_KEY, boot);
    userData.addCommands(...bootCommands({
      region: stack.region,
      stackName: stack.stackName,
      bootResource: stack.getLogicalId(cfnLaunchTemplate),
      bootSha256: boot.sha256,
      signalResource: stack.getLogicalId(this.autoScalingGroup.node.defaultChild as autoscaling.CfnAutoScalingGroup),
      siteUrl: this.url,
      siteTitle: props.siteTitle ?? 'WordPress',
      healthCheckPath: ScalableWordPress.HEALTH_CHECK_PATH,
      dbEngine: db.engine,
      dbSecretArn: db.secret.secretArn,
      dbWriterHost: db.writerEndpoint.hostname,
      dbReaderHost: db.readerEndpoint?.hostname,
      dbPort: Token.asString(db.writerEndpoint.port),
      dbName: db.databaseName,
      dbCaBundleUrl: rdsCaBundleUrl(this),
      saltsSecretArn: secrets.salts.secretArn,
      adminSecretArn: secrets.admin.secretArn,
      media: storage.kind,
      fileSystemId: storage.fileSystem?.fileSystemId,
      fileSystemDnsName: storage.fileSystem ? `${storage.fileSystem.fileSystemId}.efs.${stack.region}.${stack.urlSuffix}` : undefined,
      volumeId: storage.volume?.volumeId,
      mediaRecoveryPoint: storage.restore?.recoveryPointArn,
      mediaRestoreRoleArn: storage.restore?.roleArn,
      pageCacheSeconds,
      edge: edge.kind,
      distributionId: edge.distribution?.distributionId,
      cookieHash,
      cacheHost: objectCache?.host,
      cachePort: objectCache?.port,
      cacheSecretArn: objectCache?.secret.secretArn,
      mailFrom: email.fromAddress,
      logGroups: instanceLogs.environmentValue,
    }));

    if (capacity.max > capacity.min) {
      this.autoScalingGroup.scaleOnCpuUtilization('CpuScaling', {
        targetUtilizationPercent: props.targetCpuUtilizationPercent ?? 60,
      });
      this.autoScalingGroup.scaleOnRequestCount('RequestScaling', {
        targetRequestsPerMinute: props.targetRequestsPerMinute ?? 1200,
      });
    }

    new CfnOutput(this, 'SiteUrl', { value: this.url, description: 'The WordPress site' });
    new CfnOutput(this, 'AdminSecretArn', {
      value: secrets.admin.secretArn,
      description: 'Secrets Manager secret with the WordPress administrator\'s username and password',
    });
  }

  private createVpc(logsKey: kms.IKey, removalPolicy?: RemovalPolicy): ec2.Vpc {
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      ipProtocol: ec2.IpProtocol.DUAL_STACK,
      // The default security group allows nothing (nothing uses it): a custom resource removes its rules.
      restrictDefaultSecurityGroup: true,
      // No subnet assigns addresses on its own, IPv4 or IPv6: the instances' launch template asks for their IPv6
      // address (for egress through the egress-only gateway), and the load balancer, NAT, database and file system need none.
      subnetConfiguration: [
        { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, ipv6AssignAddressOnCreation: false },
        { name: 'Web', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22, ipv6AssignAddressOnCreation: false },
        { name: 'Data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24, ipv6AssignAddressOnCreation: false },
      ],
    });
    const logGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      encryptionKey: logsKey,
      removalPolicy: retainUnlessDestroyed(removalPolicy),
    });
    const role = new ManagedPolicyRole(this, 'FlowLogRole', { assumedBy: new iam.ServicePrincipal('vpc-flow-logs.amazonaws.com') });
    vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(logGroup, role),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });
    return vpc;
  }

  private createAutoScalingGroup(
    props: ScalableWordPressProps,
    instanceType: ec2.InstanceType,
    capacity: Capacity,
    media: WordPressMedia,
    subnets: ec2.SelectedSubnets,
    securityGroup: ec2.ISecurityGroup,
    role: iam.IRole,
    userData: ec2.UserData,
  ): autoscaling.AutoScalingGroup {
    if (!props.machineImage) {
      requireDebianImageParameter(this);
    }
    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      instanceType,
      machineImage: props.machineImage ?? ec2.MachineImage.fromSsmParameter(
        DEBIAN_13_AMI_PARAMETERS[instanceType.architecture] ?? DEBIAN_13_AMI_PARAMETERS[ec2.InstanceArchitecture.X86_64],
        { os: ec2.OperatingSystemType.LINUX },
      ),
      userData,
      role,
      securityGroup,
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      // The default image's root volume is re-declared to be encrypted; a custom image keeps its own mapping.
      blockDevices: props.machineImage ? undefined : [{
        deviceName: DEBIAN_ROOT_DEVICE,
        volume: ec2.BlockDeviceVolume.ebs(20, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }),
      }],
    });
    if (!props.vpc) {
      // In the construct's dual-stack VPC, each instance takes one IPv6 address on its network interface (the
      // subnets assign none). The L2 has no prop for it. With a network interface in the template, EC2 takes the
      // security groups on the interface only, so they move there, every group the launch template holds
      // (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-ec2-launchtemplate-networkinterface.html, Groups).
      const cfnLaunchTemplate = launchTemplate.node.defaultChild as ec2.CfnLaunchTemplate;
      cfnLaunchTemplate.addPropertyOverride('LaunchTemplateData.NetworkInterfaces', [{
        DeviceIndex: 0,
        Ipv6AddressCount: 1,
        Groups: Lazy.list({ produce: () => launchTemplate.connections.securityGroups.map((group) => group.securityGroupId) }),
      }]);
      cfnLaunchTemplate.addPropertyDeletionOverride('LaunchTemplateData.SecurityGroupIds');
    }
    const asg = new autoscaling.AutoScalingGroup(this, 'AutoScalingGroup', {
      vpc: this.vpc,
      vpcSubnets: { subnets: subnets.subnets },
      launchTemplate,
      minCapacity: capacity.min,
      maxCapacity: capacity.max,
      healthChecks: autoscaling.HealthChecks.withAdditionalChecks({
        additionalTypes: [autoscaling.AdditionalHealthCheckType.ELB],
        gracePeriod: Duration.minutes(5),
      }),
      // Creation and every rolling update wait for instances to report that WordPress serves.
      signals: autoscaling.Signals.waitForMinCapacity({ timeout: BOOT_TIMEOUT }),
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({
        maxBatchSize: 1,
        // EBS: the one instance must stop before its volume can attach to the new one.
        minInstancesInService: media._singleInstance ? 0 : Math.min(capacity.min, capacity.max - 1),
        pauseTime: BOOT_TIMEOUT,
      }),
      cooldown: Duration.minutes(5),
    });
    acknowledge(asg, 'AwsSolutions-AS3',
      'scaling-event notifications need an SNS topic and subscribers that only the site owner can choose');
    return asg;
  }

}

/** Selects subnets, failing with the prop's name when the selection is empty or impossible. */
function selectSubnets(vpc: ec2.IVpc, prop: string, selection: ec2.SubnetSelection, fix: string): ec2.SelectedSubnets {
  let selected: ec2.SelectedSubnets;
  try {
    selected = vpc.selectSubnets(selection);
  } catch (e) {
    throw new Error(`${prop} selects no subnet in the VPC: ${(e as Error).message}. ${fix}`);
  }
  if (selected.subnets.length === 0) {
    throw new Error(`${prop} selects no subnet in the VPC. ${fix}`);
  }
  return selected;
}

function defaultDataSubnets(vpc: ec2.IVpc): ec2.SubnetSelection {
  return vpc.isolatedSubnets.length > 0
    ? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }
    : { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
}
