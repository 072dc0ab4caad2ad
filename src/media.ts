import { RemovalPolicy, Size, SizeRoundingBehavior, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as efs from 'aws-cdk-lib/aws-efs';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, DependencyGroup, IConstruct, IDependable } from 'constructs';
import { acknowledge } from './private/nag';
import { retainUnlessDestroyed } from './private/removal';
import { distinctAzs } from './private/validation';

/**
 * Options for `WordPressMedia.efs()`.
 */
export interface EfsMediaOptions {
  /**
   * The file system's throughput mode.
   *
   * @default efs.ThroughputMode.ELASTIC
   */
  readonly throughputMode?: efs.ThroughputMode;

  /**
   * When files not read for a while move to the cheaper Infrequent Access class.
   *
   * @default efs.LifecyclePolicy.AFTER_30_DAYS
   */
  readonly lifecyclePolicy?: efs.LifecyclePolicy;

  /**
   * Whether AWS Backup's default daily plan backs the file system up, besides the site's own plan.
   *
   * @default - false when the site's backup plan covers the file system (`WordPressBackup.daily()`, the default);
   * true with `WordPressBackup.none()`
   */
  readonly automaticBackups?: boolean;

  /**
   * Restore: fill the new file system from this AWS Backup recovery point of an EFS file system
   * (`arn:aws:backup:REGION:ACCOUNT:recovery-point:ID`), such as one of the site's own backup plan. The first
   * instance to boot starts the restore job and waits for it (the boot timeout is 20 minutes), then moves the files
   * from AWS Backup's `aws-backup-restore_*` directory into `wp-content`; the others wait for it. Deploy it as a
   * new site, as with `WordPressDatabase` `fromSnapshot`; see the README, "Restoring a site".
   *
   * @default - a new, empty file system
   */
  readonly fromRecoveryPoint?: string;
}

/**
 * Options for `WordPressMedia.ebs()`.
 */
export interface EbsMediaOptions {
  /**
   * Size of the volume that holds `wp-content`. Whole GiB, from 1 GiB to 16 TiB.
   *
   * @default Size.gibibytes(50)
   */
  readonly size?: Size;

  /**
   * The volume type.
   *
   * @default ec2.EbsDeviceVolumeType.GP3
   */
  readonly volumeType?: ec2.EbsDeviceVolumeType;

  /**
   * Restore: create the volume from this EBS snapshot (`snap-...`), such as a recovery point of the site's AWS
   * Backup plan. `size` must be at least the snapshot's. Deploy it as a new site, as with
   * `WordPressDatabase` `fromSnapshot`; see the README, "Restoring a site".
   *
   * @default - a new, empty volume
   */
  readonly fromSnapshot?: string;
}

/**
 * Where WordPress keeps `wp-content` (uploads, plugins and themes): an EFS file system shared by
 * every instance, or one EBS volume for a single instance.
 *
 * @example
 * const shared = WordPressMedia.efs();
 * const single = WordPressMedia.ebs({ size: Size.gibibytes(100) });
 */
export abstract class WordPressMedia {
  /**
   * An encrypted EFS file system with a mount target in every Availability Zone, shared by every
   * instance. The web tier can scale out and span AZs.
   */
  public static efs(options: EfsMediaOptions = {}): WordPressMedia {
    return new EfsMedia(options);
  }

  /**
   * One encrypted EBS volume that outlives the instance: a replacement instance re-attaches it at
   * boot, so no upload is lost. The web tier is then one instance in one Availability Zone.
   */
  public static ebs(options: EbsMediaOptions = {}): WordPressMedia {
    return new EbsMedia(options);
  }

  /**
   * Whether only one instance can use the media at a time.
   * @internal
   */
  public abstract readonly _singleInstance: boolean;

  /** @internal */
  public abstract _bind(scope: Construct, context: MediaContext): BoundMedia;
}

/**
 * What the site gives the media to build itself.
 * @internal
 */
export interface MediaContext {
  readonly vpc: ec2.IVpc;
  /** Subnets for EFS mount targets. */
  readonly dataSubnets: ec2.SelectedSubnets;
  /** The Availability Zones the instances run in; the first is the (single) instance's, for an EBS volume. */
  readonly instanceAvailabilityZones: string[];
  /** The instance role, granted what it needs to use the media. */
  readonly role: iam.IRole;
  /** The constructs whose instances attach an EBS volume: the volume and they share a tag. */
  readonly attachers: IConstruct[];
  /** `undefined` means the default: retain. */
  readonly removalPolicy?: RemovalPolicy;
  /** Whether the site's own backup plan covers the media. */
  readonly backedUp: boolean;
}

/**
 * The media once created.
 * @internal
 */
export interface BoundMedia {
  readonly kind: 'efs' | 'ebs';
  readonly fileSystem?: efs.FileSystem;
  readonly volume?: ec2.Volume;
  /** How instances reach the media over the network, if they do. */
  readonly connections?: ec2.Connections;
  /** What must exist before an instance can mount the media, if anything. */
  readonly available?: IDependable;
  /** The recovery point the first boot restores the media from, and the role AWS Backup restores with. */
  readonly restore?: { readonly recoveryPointArn: string; readonly roleArn: string };
}

class EfsMedia extends WordPressMedia {
  /** @internal */
  public readonly _singleInstance = false;

  constructor(private readonly options: EfsMediaOptions) {
    super();
    const point = options.fromRecoveryPoint;
    if (point !== undefined && !Token.isUnresolved(point) && !/^arn:aws[a-z-]*:backup:[a-z0-9-]+:\d{12}:recovery-point:[A-Za-z0-9-]+$/.test(point)) {
      throw new Error(`WordPressMedia.efs({ fromRecoveryPoint }) is '${point}', but it must be an AWS Backup recovery point ARN ` +
        '(arn:aws:backup:REGION:ACCOUNT:recovery-point:ID), as `aws backup list-recovery-points-by-backup-vault` lists them.');
    }
  }

  /** @internal */
  public _bind(scope: Construct, context: MediaContext): BoundMedia {
    requireMountTargetForEveryInstanceAz(context);
    const fileSystem = new efs.FileSystem(scope, 'FileSystem', {
      vpc: context.vpc,
      vpcSubnets: { subnets: context.dataSubnets.subnets },
      encrypted: true,
      throughputMode: this.options.throughputMode ?? efs.ThroughputMode.ELASTIC,
      performanceMode: efs.PerformanceMode.GENERAL_PURPOSE,
      lifecyclePolicy: this.options.lifecyclePolicy ?? efs.LifecyclePolicy.AFTER_30_DAYS,
      removalPolicy: retainUnlessDestroyed(context.removalPolicy),
      // Instances mount over NFS through a TLS tunnel (stunnel), without amazon-efs-utils, so they
      // cannot sign with IAM. Access is by security group; the policy below refuses plain-text NFS.
      allowAnonymousAccess: true,
      fileSystemPolicy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'MountThroughMountTargetsOnly',
            principals: [new iam.AnyPrincipal()],
            actions: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite', 'elasticfilesystem:ClientRootAccess'],
            conditions: { Bool: { 'elasticfilesystem:AccessedViaMountTarget': 'true' } },
          }),
          new iam.PolicyStatement({
            sid: 'DenyUnencryptedTransport',
            effect: iam.Effect.DENY,
            principals: [new iam.AnyPrincipal()],
            actions: ['*'],
            conditions: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ],
      }),
    });
    // Written either way: left out, CloudFormation would keep what an earlier version of the site set.
    (fileSystem.node.defaultChild as efs.CfnFileSystem).backupPolicy = {
      status: this.options.automaticBackups ?? !context.backedUp ? 'ENABLED' : 'DISABLED',
    };
    const available = new DependencyGroup(fileSystem.mountTargetsAvailable);
    const restore = this.options.fromRecoveryPoint ? allowRestore(scope, context.role, this.options.fromRecoveryPoint, available) : undefined;
    return { kind: 'efs', fileSystem, connections: fileSystem.connections, available, restore };
  }
}

/**
 * A role for AWS Backup to restore with, and the instances' right to start that one restore and follow it.
 * CloudFormation cannot create a file system from a recovery point, so the first boot asks AWS Backup to restore
 * into the site's file system (https://docs.aws.amazon.com/aws-backup/latest/devguide/restoring-efs.html).
 */
function allowRestore(scope: Construct, role: iam.IRole, recoveryPointArn: string, available: DependencyGroup): BoundMedia['restore'] {
  const restoreRole = new iam.Role(scope, 'RestoreRole', {
    assumedBy: new iam.ServicePrincipal('backup.amazonaws.com'),
    description: 'AWS Backup restores the site\'s media from its recovery point',
    managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSBackupServiceRolePolicyForRestores')],
  });
  acknowledge(restoreRole, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores]',
    'AWS Backup\'s own managed policy for restores, as AWS Backup documents');
  const restorePolicy = new iam.ManagedPolicy(scope, 'Restore', {
    roles: [role],
    statements: [
      new iam.PolicyStatement({ actions: ['backup:StartRestoreJob'], resources: [recoveryPointArn] }),
      new iam.PolicyStatement({ actions: ['backup:DescribeRestoreJob'], resources: ['*'] }),
      new iam.PolicyStatement({ actions: ['iam:PassRole'], resources: [restoreRole.roleArn] }),
    ],
  });
  acknowledge(restorePolicy, 'AwsSolutions-IAM5[Resource::*]',
    'backup:DescribeRestoreJob takes no resource (Service Authorization Reference); it only reads the state of a restore job');
  available.add(restorePolicy);
  return { recoveryPointArn, roleArn: restoreRole.roleArn };
}

class EbsMedia extends WordPressMedia {
  /** @internal */
  public readonly _singleInstance = true;

  constructor(private readonly options: EbsMediaOptions) {
    super();
    const size = options.size;
    const gib = size?.toGibibytes({ rounding: SizeRoundingBehavior.NONE });
    if (size && gib !== undefined && !Token.isUnresolved(gib)) {
      if (!(Number.isInteger(gib) && gib >= 1 && gib <= 16384)) {
        throw new Error(
          `WordPressMedia.ebs({ size }) is ${gib} GiB, but an EBS volume must be a whole number of GiB from 1 GiB to 16 TiB. ` +
          'Use e.g. Size.gibibytes(50).',
        );
      }
    }
  }

  /** @internal */
  public _bind(scope: Construct, context: MediaContext): BoundMedia {
    const snapshot = this.options.fromSnapshot;
    if (snapshot !== undefined && !Token.isUnresolved(snapshot) && !/^snap-[0-9a-f]{8,17}$/.test(snapshot)) {
      throw new Error(`WordPressMedia.ebs({ fromSnapshot }) is '${snapshot}', which is not an EBS snapshot ID. Pass the ID of the snapshot ` +
        '(snap- and 8 or 17 hex digits), e.g. from the AWS Backup recovery point of the volume.');
    }
    const volume = new ec2.Volume(scope, 'Volume', {
      availabilityZone: context.instanceAvailabilityZones[0],
      size: this.options.size ?? Size.gibibytes(50),
      volumeType: this.options.volumeType ?? ec2.EbsDeviceVolumeType.GP3,
      snapshotId: this.options.fromSnapshot,
      encrypted: true,
      removalPolicy: context.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    // Attach only to instances that carry the site's tag; the boot script also waits for the volume
    // to be free (DescribeVolumes), which EC2 cannot scope to a resource.
    volume.grantAttachVolumeByResourceTag(context.role, context.attachers);
    acknowledge(context.role, 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*]',
      'ec2:AttachVolume on instances is limited by condition to instances that carry this site\'s tag (grantAttachVolumeByResourceTag)');
    // A managed policy, as the role's others are; its construct ID is not the former inline policy's.
    const describeVolumes = new iam.ManagedPolicy(scope, 'DescribeVolumes', {
      statements: [new iam.PolicyStatement({ actions: ['ec2:DescribeVolumes'], resources: ['*'] })],
      roles: [context.role],
    });
    acknowledge(describeVolumes, 'AwsSolutions-IAM5[Resource::*]',
      'ec2:DescribeVolumes supports no resource-level permissions; it is read-only and lets the boot script wait until the volume is free');
    // The boot calls DescribeVolumes first thing: the instances wait for the policy.
    return { kind: 'ebs', volume, available: describeVolumes };
  }
}

/**
 * An EFS file system's DNS name resolves only in the Availability Zones that have a mount target
 * (https://docs.aws.amazon.com/efs/latest/ug/mounting-fs-mount-cmd-dns-name.html): an instance in any other
 * AZ could not mount wp-content, and its boot would fail.
 */
function requireMountTargetForEveryInstanceAz(context: MediaContext) {
  const mountTargetAzs = distinctAzs(context.dataSubnets);
  const missing = context.instanceAvailabilityZones.filter((az) => !mountTargetAzs.includes(az));
  // Two different tokens may still name the same AZ: only literal names can be compared for sure.
  if (missing.length === 0 || [...missing, ...mountTargetAzs].some((az) => Token.isUnresolved(az))) {
    return;
  }
  throw new Error(
    `vpcSubnets puts instances in ${missing.join(', ')}, where dataSubnets has no subnet (it covers ${mountTargetAzs.join(', ')}). ` +
    'WordPressMedia.efs() puts its mount targets in dataSubnets, and an EFS DNS name resolves only in AZs with a mount target, ' +
    'so those instances could not mount wp-content. Widen dataSubnets to every AZ of vpcSubnets, or narrow vpcSubnets to the AZs of dataSubnets.',
  );
}
