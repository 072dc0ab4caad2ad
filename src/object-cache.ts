import { Names, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from './private/nag';
import { retainUnlessDestroyed } from './private/removal';
import { ensureInteger } from './private/validation';

/** Valkey's port. A serverless cache also answers replica reads on 6380, which WordPress does not use. */
const CACHE_PORT = 6379;
/** The user WordPress authenticates as (Valkey ACL, through ElastiCache RBAC). */
const CACHE_USERNAME = 'wordpress';
/** ElastiCache Serverless's limits on stored data, in GB (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Scaling.html). */
const MIN_DATA_STORAGE_GB = 1;
const MAX_DATA_STORAGE_GB = 5000;
/** Its limits on ECPUs per second. */
const MIN_ECPU_PER_SECOND = 1000;
const MAX_ECPU_PER_SECOND = 15_000_000;

/**
 * Options for `WordPressObjectCache.serverless()`.
 */
export interface ServerlessObjectCacheOptions {
  /**
   * The most data the cache holds, in GB, from 1 to 5,000. Past it the cache evicts the least recently used keys
   * (every key WordPress writes has a lifetime), so the limit caps the bill, not the site. ElastiCache bills the
   * data stored, at least 100 MB for Valkey.
   *
   * @default 1
   */
  readonly maxDataStorageGb?: number;

  /**
   * The most ElastiCache Processing Units the cache uses per second, from 1,000 to 15,000,000: past it,
   * requests are throttled, and WordPress falls back to the database for them. One simple GET or SET of up to
   * 1 KB costs one ECPU.
   *
   * @default - no limit below ElastiCache's own
   */
  readonly maxEcpuPerSecond?: number;
}

/**
 * WordPress's persistent object cache, shared by every instance: the options, posts, terms, users and query
 * results that WordPress would otherwise read from the database on every page view. Logged-in pages and pages
 * the page cache cannot answer make far fewer queries with it (`ScalableWordPressProps.objectCache`, off by default).
 *
 * @example
 * const cache = WordPressObjectCache.serverless({ maxDataStorageGb: 2 });
 * const noCache = WordPressObjectCache.none();
 */
export abstract class WordPressObjectCache {
  /**
   * ElastiCache Serverless for Valkey 8: TLS only, a user and password of its own (generated in Secrets Manager),
   * reachable from the instances only, encrypted with the site's key, and spread over the data subnets' AZs.
   * About USD 6 a month at the 100 MB that ElastiCache bills at least, plus USD 0.0023 per million ECPUs
   * (us-east-1; see the README, "The object cache").
   */
  public static serverless(options: ServerlessObjectCacheOptions = {}): WordPressObjectCache {
    return new ServerlessObjectCache(options);
  }

  /** No persistent object cache: WordPress keeps its objects for one request only, as it does by default. */
  public static none(): WordPressObjectCache {
    return new NoObjectCache();
  }

  /** @internal */
  public abstract _bind(scope: Construct, context: ObjectCacheContext): BoundObjectCache | undefined;
}

/**
 * What the site gives the cache to build itself.
 * @internal
 */
export interface ObjectCacheContext {
  readonly vpc: ec2.IVpc;
  /** Where the cache's endpoints go: the data subnets, one per AZ. */
  readonly subnets: ec2.SelectedSubnets;
  /** The instances, the only clients. */
  readonly clients: ec2.IConnectable;
  /** The site's key for secrets, which also encrypts the cache. */
  readonly encryptionKey: kms.IKey;
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The cache, as the site wires it.
 * @internal
 */
export interface BoundObjectCache {
  readonly cache: elasticache.CfnServerlessCache;
  readonly host: string;
  readonly port: string;
  /** `{ "username", "password" }` of the cache user WordPress authenticates as. */
  readonly secret: secretsmanager.ISecret;
}

class NoObjectCache extends WordPressObjectCache {
  public _bind(): BoundObjectCache | undefined {
    return undefined;
  }
}

class ServerlessObjectCache extends WordPressObjectCache {
  constructor(private readonly options: ServerlessObjectCacheOptions) {
    super();
    if (options.maxDataStorageGb !== undefined) {
      ensureInteger('WordPressObjectCache.serverless({ maxDataStorageGb })', options.maxDataStorageGb, MIN_DATA_STORAGE_GB, MAX_DATA_STORAGE_GB);
    }
    if (options.maxEcpuPerSecond !== undefined) {
      ensureInteger('WordPressObjectCache.serverless({ maxEcpuPerSecond })', options.maxEcpuPerSecond, MIN_ECPU_PER_SECOND, MAX_ECPU_PER_SECOND);
    }
  }

  public _bind(scope: Construct, context: ObjectCacheContext): BoundObjectCache {
    const secret = new secretsmanager.Secret(scope, 'Secret', {
      description: 'WordPress object cache (ElastiCache Valkey) user: username and password',
      // ElastiCache refuses some punctuation in passwords: letters and digits only, 32 of them.
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: CACHE_USERNAME }),
        generateStringKey: 'password',
        passwordLength: 32,
        excludePunctuation: true,
        includeSpace: false,
      },
      encryptionKey: context.encryptionKey,
    });
    secret.applyRemovalPolicy(retainUnlessDestroyed(context.removalPolicy));
    acknowledge(secret, 'AwsSolutions-SMG4',
      'the cache password is read by the instances at boot; rotating it needs every instance to reload it, and the cache holds only data the database has');
    // CloudFormation resolves the dynamic reference at deploy time: the password is never in the template.
    const password = secret.secretValueFromJson('password').unsafeUnwrap();

    // User, user group and cache IDs are physical names, unique in the account and region.
    const name = physicalName(scope);
    const user = new elasticache.CfnUser(scope, 'User', {
      engine: 'valkey',
      userId: `${name}-wp`,
      userName: CACHE_USERNAME,
      // Every data command, none of Valkey's @dangerous ones (FLUSHALL, KEYS, CONFIG, DEBUG...): the drop-in
      // empties the cache by moving to a new generation of keys, never by flushing.
      accessString: 'on ~* +@all -@dangerous',
      passwords: [password],
    });
    // ElastiCache requires a user named `default` in every user group. It is off, and can run nothing.
    const defaultUser = new elasticache.CfnUser(scope, 'DefaultUser', {
      engine: 'valkey',
      userId: `${name}-default`,
      userName: 'default',
      accessString: 'off -@all',
      passwords: [password],
    });
    const userGroup = new elasticache.CfnUserGroup(scope, 'UserGroup', {
      engine: 'valkey',
      userGroupId: `${name}-users`,
      userIds: [user.userId, defaultUser.userId],
    });
    userGroup.node.addDependency(user, defaultUser);

    const securityGroup = new ec2.SecurityGroup(scope, 'SecurityGroup', {
      vpc: context.vpc,
      description: 'WordPress object cache: Valkey from the WordPress instances only',
      allowAllOutbound: false,
    });
    securityGroup.connections.allowFrom(context.clients, ec2.Port.tcp(CACHE_PORT), 'WordPress instances');

    const limits = this.options;
    const cache = new elasticache.CfnServerlessCache(scope, 'Cache', {
      serverlessCacheName: name,
      description: 'WordPress persistent object cache',
      engine: 'valkey',
      majorEngineVersion: '8',
      // Encrypted in transit always (Serverless takes TLS only), and at rest with the site's key.
      kmsKeyId: context.encryptionKey.keyArn,
      securityGroupIds: [securityGroup.securityGroupId],
      subnetIds: context.subnets.subnetIds,
      userGroupId: userGroup.ref,
      cacheUsageLimits: {
        dataStorage: { maximum: limits.maxDataStorageGb ?? 1, unit: 'GB' },
        ...(limits.maxEcpuPerSecond !== undefined ? { ecpuPerSecond: { maximum: limits.maxEcpuPerSecond } } : {}),
      },
    });
    cache.node.addDependency(userGroup);
    return { cache, host: cache.attrEndpointAddress, port: String(CACHE_PORT), secret };
  }
}

/**
 * A name for the cache and its users: lower case letters, digits and single hyphens, starting with a letter, at most
 * 40 characters with the longest suffix, `-default` (ElastiCache's rules), unique to this construct's path.
 */
function physicalName(scope: Construct): string {
  const unique = Names.uniqueResourceName(scope, { maxLength: 28, separator: '-' }).toLowerCase()
    .replace(/[^a-z0-9-]/g, '').replace(/-+/g, '-').replace(/^[^a-z]+/, '').replace(/-$/, '');
  return `wp-${unique}`.replace(/-+/g, '-').replace(/-$/, '');
}
