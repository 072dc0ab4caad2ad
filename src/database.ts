import { Annotations, Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from './private/nag';
import { retainUnlessDestroyed } from './private/removal';
import { describeAzs, distinctAzs, ensureInteger } from './private/validation';

/** The database WordPress connects as, and the schema it uses. */
const DB_USERNAME = 'wordpress';
const DB_NAME = 'wordpress';

/**
 * The default engine versions. A full minor version, because CloudFormation's template validation (on in every
 * `cdk init` app since aws-cdk-lib 2.262) accepts no major-only MySQL version, and one that every aws-cdk-lib
 * from our floor (2.257) to today knows and none deprecates. Never change them within a major version: a site
 * whose database already runs a newer minor would fail to update, since RDS cannot downgrade.
 */
const DEFAULT_MYSQL_VERSION = rds.MysqlEngineVersion.VER_8_4_8;
const DEFAULT_AURORA_MYSQL_VERSION = rds.AuroraMysqlEngineVersion.VER_3_10_4;

/** An Aurora cluster has at most 15 readers. */
const MAX_AURORA_READERS = 15;

/**
 * Options shared by both database layouts.
 */
export interface WordPressDatabaseOptions {
  /**
   * How long automated backups are kept. Between 1 and 35 days.
   *
   * @default Duration.days(7)
   */
  readonly backupRetention?: Duration;

  /**
   * Restore: build the database from this snapshot (its identifier or ARN): a DB snapshot for `rdsMultiAz()`,
   * a DB cluster snapshot for `auroraReplicas()`, such as a recovery point of the site's AWS Backup plan. The
   * database takes the site's database secret as its password. Deploy it as a new site (a new stack or construct
   * ID), not over the running one: replacing a database that deletion protection guards fails. See the README,
   * "Restoring a site".
   *
   * @default - a new, empty database
   */
  readonly fromSnapshot?: string;
}

/**
 * Options for `WordPressDatabase.rdsMultiAz()`.
 */
export interface RdsMultiAzOptions extends WordPressDatabaseOptions {
  /**
   * The database instance type.
   *
   * @default db.m5.large
   */
  readonly instanceType?: ec2.InstanceType;

  /**
   * The MySQL engine version.
   *
   * Minor versions then move forward by themselves: RDS applies newer minor versions in the maintenance window
   * (auto minor version upgrade is on), and CloudFormation leaves the running version alone while this value is
   * unchanged. Set it only to a version at or above the one running: RDS cannot downgrade.
   *
   * @default MysqlEngineVersion.VER_8_4_8, fixed for this major version of the library
   */
  readonly engineVersion?: rds.MysqlEngineVersion;

  /**
   * Storage allocated to the instance. It grows automatically up to `maxAllocatedStorageGiB`.
   *
   * @default 50
   */
  readonly allocatedStorageGiB?: number;

  /**
   * Upper limit, in GiB, for storage autoscaling.
   *
   * @default 500
   */
  readonly maxAllocatedStorageGiB?: number;
}

/**
 * How Aurora readers are provisioned.
 */
export enum AuroraReaderType {
  /** Readers are provisioned instances of `readerInstanceType`. */
  PROVISIONED = 'PROVISIONED',
  /** Readers are Aurora Serverless v2 instances that scale between the cluster's ACU limits. */
  SERVERLESS_V2 = 'SERVERLESS_V2',
}

/**
 * Options for `WordPressDatabase.auroraReplicas()`.
 */
export interface AuroraReplicasOptions extends WordPressDatabaseOptions {
  /**
   * Number of reader instances, from 0 to 15. WordPress sends anonymous reads to them,
   * and Aurora fails over to one of them if the writer fails.
   *
   * @default 1
   */
  readonly readers?: number;

  /**
   * The writer's instance type.
   *
   * @default db.r6g.large
   */
  readonly instanceType?: ec2.InstanceType;

  /**
   * How readers are provisioned.
   *
   * @default AuroraReaderType.PROVISIONED
   */
  readonly readerType?: AuroraReaderType;

  /**
   * The instance type of provisioned readers. Ignored for Serverless v2 readers.
   *
   * @default - the writer's instance type, so that a failover keeps the same capacity
   */
  readonly readerInstanceType?: ec2.InstanceType;

  /**
   * Minimum capacity of Serverless v2 readers, in Aurora capacity units.
   *
   * @default 0.5
   */
  readonly serverlessV2MinCapacity?: number;

  /**
   * Maximum capacity of Serverless v2 readers, in Aurora capacity units.
   *
   * @default 8
   */
  readonly serverlessV2MaxCapacity?: number;

  /**
   * The Aurora MySQL engine version.
   *
   * Minor versions then move forward by themselves, in the maintenance window, as with `rdsMultiAz()`.
   *
   * @default AuroraMysqlEngineVersion.VER_3_10_4 (an Aurora MySQL 3 long-term-support release), fixed for this major version of the library
   */
  readonly engineVersion?: rds.AuroraMysqlEngineVersion;

  /**
   * How far back the cluster can be rewound in place with Aurora Backtrack.
   * Backtrack can only be turned on when the cluster is created.
   *
   * @default - Backtrack is off; recovery is by point-in-time restore from automated backups
   */
  readonly backtrackWindow?: Duration;
}

/**
 * The database WordPress runs on: RDS for MySQL Multi-AZ, or Aurora MySQL with read replicas.
 *
 * Either way the database is encrypted, requires TLS, keeps automated backups,
 * is protected from deletion, and accepts connections only from the web tier.
 *
 * @example
 * const multiAz = WordPressDatabase.rdsMultiAz();
 * const aurora = WordPressDatabase.auroraReplicas({ readers: 2 });
 */
export abstract class WordPressDatabase {
  /**
   * RDS for MySQL 8.4 with a Multi-AZ standby and automatic failover.
   * The standby serves no reads: WordPress uses the writer only.
   */
  public static rdsMultiAz(options: RdsMultiAzOptions = {}): WordPressDatabase {
    return new RdsMultiAzDatabase(options);
  }

  /**
   * Aurora MySQL 3 with one writer and `readers` readers spread over the Availability Zones.
   * WordPress sends reads from anonymous page views to the readers.
   */
  public static auroraReplicas(options: AuroraReplicasOptions = {}): WordPressDatabase {
    return new AuroraReplicasDatabase(options);
  }

  /**
   * Checks the options and creates the database under `scope`.
   * @internal
   */
  public abstract _bind(scope: Construct, context: DatabaseContext): BoundDatabase;
}

/**
 * What the site gives the database to build itself.
 * @internal
 */
export interface DatabaseContext {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SelectedSubnets;
  /** `undefined` means the default: snapshot on delete and deletion protection on. */
  readonly removalPolicy?: RemovalPolicy;
  /** The key that encrypts the site's secrets, the database credentials among them. */
  readonly secretsKey?: kms.IKey;
}

/**
 * The database once created.
 * @internal
 */
/**
 * Enhanced Monitoring every minute (the OS metrics, in CloudWatch Logs' RDSOSMetrics group: billed as log
 * ingestion past the free tier) and Performance Insights with its free 7 days of history.
 */
const INSIGHTS = {
  monitoringInterval: Duration.minutes(1),
  enablePerformanceInsights: true,
};

export interface BoundDatabase {
  readonly engine: 'mysql' | 'aurora-mysql';
  /** The schema WordPress uses. */
  readonly databaseName: string;
  readonly writerEndpoint: rds.Endpoint;
  readonly readerEndpoint?: rds.Endpoint;
  readonly secret: secretsmanager.ISecret;
  readonly connections: ec2.Connections;
  readonly instance?: rds.IDatabaseInstance;
  readonly cluster?: rds.IDatabaseCluster;
}

class RdsMultiAzDatabase extends WordPressDatabase {
  constructor(private readonly options: RdsMultiAzOptions) {
    super();
    validateCommon(options);
    const storage = options.allocatedStorageGiB ?? 50;
    const maxStorage = options.maxAllocatedStorageGiB ?? 500;
    ensureInteger('WordPressDatabase.rdsMultiAz({ allocatedStorageGiB })', storage, 20, 65536);
    ensureInteger('WordPressDatabase.rdsMultiAz({ maxAllocatedStorageGiB })', maxStorage, storage, 65536);
  }

  /** @internal */
  public _bind(scope: Construct, context: DatabaseContext): BoundDatabase {
    const o = this.options;
    requireTwoAzs(context, 'WordPressDatabase.rdsMultiAz()');
    const engine = rds.DatabaseInstanceEngine.mysql({ version: o.engineVersion ?? DEFAULT_MYSQL_VERSION });
    const secret = createSecret(scope, context);
    const common = {
      engine,
      instanceType: o.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.M5, ec2.InstanceSize.LARGE),
      multiAz: true,
      vpc: context.vpc,
      vpcSubnets: { subnets: context.subnets.subnets },
      allocatedStorage: o.allocatedStorageGiB ?? 50,
      maxAllocatedStorage: o.maxAllocatedStorageGiB ?? 500,
      storageType: rds.StorageType.GP3,
      parameterGroup: new rds.ParameterGroup(scope, 'Parameters', {
        engine,
        description: 'WordPress on MySQL: TLS required, slow query log on',
        parameters: PARAMETERS,
      }),
      // RDS for MySQL audits through the MariaDB Audit Plugin, an option (all MySQL 8.4 versions:
      // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Appendix.MySQL.Options.AuditPlugin.html).
      optionGroup: new rds.OptionGroup(scope, 'Options', {
        engine,
        description: 'WordPress on MySQL: audit log of logins and of schema and privilege changes',
        configurations: [{ name: 'MARIADB_AUDIT_PLUGIN', settings: { SERVER_AUDIT_EVENTS: AUDIT_EVENTS } }],
      }),
      backupRetention: o.backupRetention ?? Duration.days(7),
      deletionProtection: context.removalPolicy !== RemovalPolicy.DESTROY,
      removalPolicy: context.removalPolicy ?? RemovalPolicy.SNAPSHOT,
      cloudwatchLogsExports: ['audit', 'error', 'slowquery'],
      ...INSIGHTS,
      autoMinorVersionUpgrade: true,
      copyTagsToSnapshot: true,
    };
    // The same construct ID either way: a restored site's database has the logical ID of a new one.
    const instance = o.fromSnapshot
      // A snapshot keeps its encryption and its schema; the password is set from the site's secret.
      ? new rds.DatabaseInstanceFromSnapshot(scope, 'Instance', {
        ...common, snapshotIdentifier: o.fromSnapshot, credentials: rds.SnapshotCredentials.fromSecret(secret),
      })
      : new rds.DatabaseInstance(scope, 'Instance', {
        ...common, credentials: rds.Credentials.fromSecret(secret), databaseName: DB_NAME, storageEncrypted: true,
      });
    acknowledgeCommon(instance);
    return {
      engine: 'mysql',
      databaseName: DB_NAME,
      writerEndpoint: instance.instanceEndpoint,
      secret: instance.secret ?? secret,
      connections: instance.connections,
      instance,
    };
  }
}

class AuroraReplicasDatabase extends WordPressDatabase {
  constructor(private readonly options: AuroraReplicasOptions) {
    super();
    validateCommon(options);
    ensureInteger('WordPressDatabase.auroraReplicas({ readers })', options.readers ?? 1, 0, MAX_AURORA_READERS);
    if (options.readerType !== AuroraReaderType.SERVERLESS_V2) {
      for (const [prop, value] of [['serverlessV2MinCapacity', options.serverlessV2MinCapacity], ['serverlessV2MaxCapacity', options.serverlessV2MaxCapacity]] as const) {
        if (value !== undefined) {
          throw new Error(
            `WordPressDatabase.auroraReplicas({ ${prop}: ${value} }) applies to Serverless v2 readers, but readerType is ` +
            `${options.readerType ?? 'not set (provisioned readers)'}. Add readerType: AuroraReaderType.SERVERLESS_V2, or remove ${prop}.`,
          );
        }
      }
    }
    validateAuroraInstanceType('instanceType', options.instanceType);
    validateAuroraInstanceType('readerInstanceType', options.readerInstanceType);
    const min = options.serverlessV2MinCapacity ?? 0.5;
    const max = options.serverlessV2MaxCapacity ?? 8;
    if (!(min >= 0 && min <= 256 && max >= 1 && max <= 256 && min <= max && (min * 2) % 1 === 0 && (max * 2) % 1 === 0)) {
      throw new Error(
        `WordPressDatabase.auroraReplicas(): serverlessV2MinCapacity ${min} and serverlessV2MaxCapacity ${max} are not a valid range. ` +
        'Use multiples of 0.5 ACU with 0 <= min <= max, 1 <= max <= 256.',
      );
    }
  }

  /** @internal */
  public _bind(scope: Construct, context: DatabaseContext): BoundDatabase {
    const o = this.options;
    requireTwoAzs(context, 'WordPressDatabase.auroraReplicas()');
    const readers = o.readers ?? 1;
    if (readers === 0) {
      Annotations.of(scope).addWarningV2('cdk-scalable-wordpress:auroraWithoutReaders',
        'WordPressDatabase.auroraReplicas({ readers: 0 }) has no reader: every query goes to the writer, and a writer failure waits for Aurora ' +
        'to recreate it (about 10 minutes) instead of failing over in under a minute. Set readers to 1 or more for production.');
    }
    const engine = rds.DatabaseClusterEngine.auroraMysql({ version: o.engineVersion ?? DEFAULT_AURORA_MYSQL_VERSION });
    const writerType = o.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE);
    const azs = distinctAzs(context.subnets);
    // The writer takes the first AZ, readers the others in turn, so that a failover target
    // sits outside the writer's AZ whenever there is one.
    const readerInstances = Array.from({ length: readers }, (_, i) => {
      const id = `Reader${i + 1}`;
      const availabilityZone = azs[(i + 1) % azs.length];
      return o.readerType === AuroraReaderType.SERVERLESS_V2
        ? rds.ClusterInstance.serverlessV2(id, {
          availabilityZone, scaleWithWriter: i === 0, autoMinorVersionUpgrade: true, enablePerformanceInsights: true,
        })
        : rds.ClusterInstance.provisioned(id, {
          availabilityZone,
          instanceType: o.readerInstanceType ?? writerType,
          promotionTier: 1,
          autoMinorVersionUpgrade: true,
          enablePerformanceInsights: true,
        });
    });
    const secret = createSecret(scope, context);
    const common = {
      engine,
      writer: rds.ClusterInstance.provisioned('Writer', {
        instanceType: writerType,
        availabilityZone: azs[0],
        autoMinorVersionUpgrade: true,
        enablePerformanceInsights: true,
      }),
      readers: readerInstances,
      serverlessV2MinCapacity: o.readerType === AuroraReaderType.SERVERLESS_V2 ? o.serverlessV2MinCapacity ?? 0.5 : undefined,
      serverlessV2MaxCapacity: o.readerType === AuroraReaderType.SERVERLESS_V2 ? o.serverlessV2MaxCapacity ?? 8 : undefined,
      vpc: context.vpc,
      vpcSubnets: { subnets: context.subnets.subnets },
      parameterGroup: new rds.ParameterGroup(scope, 'Parameters', {
        engine,
        // The description is the first one: changing it would replace the parameter group (the audit parameters are dynamic).
        description: 'WordPress on Aurora MySQL: TLS required, slow query log on',
        // Aurora MySQL audits through cluster parameters (Aurora User Guide, "Using Advanced Auditing with an Amazon Aurora MySQL DB cluster").
        parameters: { ...PARAMETERS, server_audit_logging: '1', server_audit_events: AUDIT_EVENTS },
      }),
      backup: { retention: o.backupRetention ?? Duration.days(7) },
      backtrackWindow: o.backtrackWindow,
      deletionProtection: context.removalPolicy !== RemovalPolicy.DESTROY,
      removalPolicy: context.removalPolicy ?? RemovalPolicy.SNAPSHOT,
      cloudwatchLogsExports: ['audit', 'error', 'slowquery'],
      ...INSIGHTS,
      copyTagsToSnapshot: true,
    };
    const cluster = o.fromSnapshot
      ? new rds.DatabaseClusterFromSnapshot(scope, 'Cluster', {
        ...common, snapshotIdentifier: o.fromSnapshot, snapshotCredentials: rds.SnapshotCredentials.fromSecret(secret),
      })
      : new rds.DatabaseCluster(scope, 'Cluster', {
        ...common, credentials: rds.Credentials.fromSecret(secret), defaultDatabaseName: DB_NAME, storageEncrypted: true,
      });
    acknowledgeCommon(cluster);
    acknowledge(cluster, 'AwsSolutions-RDS6',
      'WordPress connects with mysqli and a password; it cannot fetch IAM authentication tokens. The password lives in Secrets Manager');
    if (!o.backtrackWindow) {
      acknowledge(cluster, 'AwsSolutions-RDS14',
        'Backtrack is opt-in (auroraReplicas({ backtrackWindow })): it adds cost, and point-in-time restore from automated backups covers recovery');
    }
    return {
      engine: 'aurora-mysql',
      databaseName: DB_NAME,
      writerEndpoint: cluster.clusterEndpoint,
      readerEndpoint: cluster.clusterReadEndpoint,
      secret: cluster.secret!,
      connections: cluster.connections,
      cluster,
    };
  }
}

/**
 * What the audit log records: logins (and failed ones), and changes to the schema and to privileges. Not every
 * query: WordPress's own reads and writes would multiply the log's cost, and the general log is off for that reason.
 */
const AUDIT_EVENTS = 'CONNECT,QUERY_DDL,QUERY_DCL';

/** Server parameters both engines get: TLS for every connection, and slow queries logged. */
const PARAMETERS = {
  require_secure_transport: 'ON',
  slow_query_log: '1',
  long_query_time: '2',
};

function validateCommon(options: WordPressDatabaseOptions) {
  const retention = options.backupRetention;
  if (retention && !Token.isUnresolved(retention.toDays({ integral: false }))) {
    const days = retention.toDays({ integral: false });
    if (days < 1 || days > 35 || days % 1 !== 0) {
      throw new Error(`backupRetention is ${retention.toHumanString()}; RDS keeps automated backups for 1 to 35 whole days. Use e.g. Duration.days(7).`);
    }
  }
}

/**
 * Aurora MySQL 3 runs on memory-optimized classes (db.r*, db.x*) and on the burstable db.t3/db.t4g medium and large;
 * it has no db.m* class and dropped db.t3.small (Aurora user guide, "Supported DB engines for DB instance classes",
 * and "Comparing Aurora MySQL version 2 and version 3"). Anything else fails only at deploy, after the VPC is built.
 */
const AURORA_MYSQL_3_CLASSES = /^(r\d+[a-z-]*|x\d+[a-z-]*)\.|^t(3|4g)\.(medium|large)$/;

function validateAuroraInstanceType(prop: string, instanceType: ec2.InstanceType | undefined) {
  const name = instanceType?.toString();
  if (name === undefined || Token.isUnresolved(name) || AURORA_MYSQL_3_CLASSES.test(name)) {
    return;
  }
  throw new Error(
    `WordPressDatabase.auroraReplicas({ ${prop} }) is db.${name}, which Aurora MySQL 3 does not support: it runs on the db.r and db.x ` +
    'classes, and on db.t3 or db.t4g medium and large. Use e.g. r6g.large (the default), or t4g.medium for a small or test site.',
  );
}

function requireTwoAzs(context: DatabaseContext, what: string) {
  const azs = distinctAzs(context.subnets);
  if (azs.length < 2) {
    throw new Error(
      `${what} needs subnets in at least two Availability Zones for its standby, but the database subnets span ${describeAzs(azs.length)}` +
      `${namesOf(azs)}. Pass a vpc with subnets in two or more AZs, or widen dataSubnets.`,
    );
  }
}

/** " (eu-west-1a, eu-west-1b)" for AZ names known at synth time; nothing for names CloudFormation resolves at deploy. */
function namesOf(azs: string[]): string {
  return azs.length === 0 || azs.some((az) => Token.isUnresolved(az)) ? '' : ` (${azs.join(', ')})`;
}

function createSecret(scope: Construct, context: DatabaseContext): secretsmanager.ISecret {
  const secret = new rds.DatabaseSecret(scope, 'Secret', { username: DB_USERNAME, encryptionKey: context.secretsKey });
  // The secret outlives the database by default: a snapshot is useless without its password.
  secret.applyRemovalPolicy(retainUnlessDestroyed(context.removalPolicy));
  acknowledge(secret, 'AwsSolutions-SMG4',
    'WordPress reads the database password into wp-config.php at boot; rotating it would cut every running instance off from the database');
  return secret;
}

function acknowledgeCommon(db: Construct) {
  acknowledge(db, 'AwsSolutions-RDS11',
    'MySQL listens on its standard port: WordPress and its tooling expect 3306, and only the web tier security group may connect');
  acknowledge(db, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]',
    'Enhanced Monitoring\'s role uses the managed policy RDS documents for it: it only writes the OS metrics to the RDSOSMetrics log group');
}
